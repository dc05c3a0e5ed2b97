package io.vtrack.agent;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where the source feeds read sources and fetch app repositories: threads off the event loop, each
 * result handed back to the agent's context, and every read known until it ends, so that a stop can
 * wait for those in flight.
 */
final class FeedWorkers {
  private static final Logger LOG = LoggerFactory.getLogger(FeedWorkers.class);

  /**
   * How long stopping waits for reads in flight (a fetch from a remote that hangs ends only at
   * {@code gitTimeout}); one that ends later finds nobody waiting and drops its result.
   */
  static final long READS_WAIT_MILLIS = 3_000;

  /**
   * Where reads run: threads of their own, not Vert.x's workers, so that a read that outlives the
   * agent's Vert.x (a fetch from a remote that hangs) ends quietly instead of failing to hand its
   * result to a closed event loop. Daemons: they never hold the JVM.
   */
  private final ExecutorService readers =
      Executors.newCachedThreadPool(daemons("vtrack-source-read"));

  /**
   * Where app repositories are fetched, {@link #FETCHES_AT_ONCE} at a time: many deployments with
   * repositories of their own are fetched side by side, without a burst of connections to one git
   * host at every look.
   */
  private final ExecutorService fetchers =
      Executors.newFixedThreadPool(FETCHES_AT_ONCE, daemons("vtrack-fetch"));

  static final int FETCHES_AT_ONCE = 8;

  private static ThreadFactory daemons(String name) {
    return r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    };
  }

  private final Context ctx;

  /** Reads of sources and fetches of app repositories running (on the event loop). */
  private final Set<Future<?>> reading = new HashSet<>();

  FeedWorkers(Context ctx) {
    this.ctx = ctx;
  }

  /** Runs a read on a worker, known to {@link #stop} until it ends (on the event loop). */
  <T> Future<T> read(Callable<T> task) {
    return read(readers, task);
  }

  /** Fetches an app repository, {@link #FETCHES_AT_ONCE} at a time, known to {@link #stop}. */
  <T> Future<T> fetch(Callable<T> task) {
    return read(fetchers, task);
  }

  private <T> Future<T> read(ExecutorService on, Callable<T> task) {
    Promise<T> p = Promise.promise();
    Future<T> f = p.future();
    reading.add(f);
    f.onComplete(ar -> reading.remove(f));
    on.execute(
        () -> {
          io.vertx.core.Handler<Void> handOver;
          try {
            T value = task.call();
            handOver = v -> p.tryComplete(value);
          } catch (Throwable e) {
            handOver = v -> p.tryFail(e);
          }
          try {
            ctx.runOnContext(handOver);
          } catch (RejectedExecutionException e) {
            LOG.debug("a source read ended after the agent stopped: {}", e.getMessage());
          }
        });
    return f;
  }

  /** Starts no more reads and waits for those in flight, for at most {@link #READS_WAIT_MILLIS}. */
  Future<Void> stop() {
    readers.shutdown();
    fetchers.shutdown();
    return Future.join(List.copyOf(reading))
        .<Void>mapEmpty()
        .timeout(READS_WAIT_MILLIS, TimeUnit.MILLISECONDS)
        .otherwiseEmpty();
  }
}
