package io.vtrack.agent.reconcile;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vtrack.agent.check.CheckResult;
import io.vtrack.agent.check.FileGrowth;
import io.vtrack.agent.check.HealthCheck;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * During verification, runs the checks whose every write may fail them for good (a log count since
 * the switch) again as soon as what they read is written: a file through the kernel's file events
 * ({@link FileGrowth}), a container's output through the engine's log stream. A log written without
 * pause is counted at most every {@value #RECOUNT_SPACING_MILLIS} ms, one count at a time. Runs on
 * the verification's context; watches are made and stopped on a worker (file-system and engine
 * calls).
 */
final class WriteWatch {
  private static final Logger LOG = LoggerFactory.getLogger(WriteWatch.class);

  /** Spacing of the extra counts of a log that is written without pause. */
  static final long RECOUNT_SPACING_MILLIS = 50;

  private final Vertx vertx;
  private final Context context;
  private final FileGrowth files;
  private final List<HealthCheck> growing;
  private final BooleanSupplier finished;
  private final BooleanSupplier counted;
  private final List<AutoCloseable> watches = new ArrayList<>();
  private boolean counting;
  private boolean countAgain;

  /**
   * @param finished whether the verification has ended (nothing more is counted)
   * @param counted told after each count; answers whether a check failed for good (then nothing
   *     more is counted)
   */
  WriteWatch(
      Vertx vertx,
      Context context,
      FileGrowth files,
      List<HealthCheck> checks,
      BooleanSupplier finished,
      BooleanSupplier counted) {
    this.vertx = vertx;
    this.context = context;
    this.files = files;
    this.growing = checks.stream().filter(HealthCheck::grows).toList();
    this.finished = finished;
    this.counted = counted;
  }

  /** Makes the watches; once they are in place, counts what was written before. */
  void start() {
    if (growing.isEmpty()) {
      return;
    }
    vertx
        .executeBlocking(this::watch, false)
        .onSuccess(
            ws -> {
              watches.addAll(ws);
              if (finished.getAsBoolean()) {
                stop();
              } else {
                recount();
              }
            });
  }

  /**
   * A watch on what each check reads; one that cannot be made is left out (its check is still
   * counted at each round).
   */
  private List<AutoCloseable> watch() {
    List<AutoCloseable> made = new ArrayList<>();
    for (HealthCheck c : growing) {
      try {
        made.add(c.watchWrites(files, this::written));
      } catch (IOException | RuntimeException e) {
        LOG.warn(
            "check {}: its writes cannot be watched, it is counted at each round: {}",
            c.spec().name(),
            e.toString());
      }
    }
    return made;
  }

  /** Stops the watches made so far (on a worker). */
  void stop() {
    List<AutoCloseable> stop = List.copyOf(watches);
    watches.clear();
    if (stop.isEmpty()) {
      return;
    }
    vertx.executeBlocking(
        () -> {
          for (AutoCloseable w : stop) {
            w.close();
          }
          return null;
        },
        false);
  }

  /** On a watcher's thread: something a check reads was written. */
  private void written() {
    try {
      context.runOnContext(v -> recount());
    } catch (RejectedExecutionException e) {
      // the agent is stopping
    }
  }

  /** Counts the written logs now (only the checks that read them). */
  private void recount() {
    if (finished.getAsBoolean()) {
      return;
    }
    if (counting) {
      countAgain = true;
      return;
    }
    counting = true;
    List<Future<CheckResult>> counts = new ArrayList<>();
    for (HealthCheck c : growing) {
      counts.add(c.run());
    }
    Future.join(counts)
        .onComplete(
            x -> {
              if (finished.getAsBoolean()) {
                return;
              }
              if (counted.getAsBoolean()) {
                counting = false;
              } else if (countAgain) {
                countAgain = false;
                vertx.setTimer(
                    RECOUNT_SPACING_MILLIS,
                    id -> {
                      counting = false;
                      recount();
                    });
              } else {
                counting = false;
              }
            });
  }
}
