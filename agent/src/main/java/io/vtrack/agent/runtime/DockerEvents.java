package io.vtrack.agent.runtime;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.async.ResultCallback;
import com.github.dockerjava.api.model.Event;
import com.github.dockerjava.api.model.EventType;
import io.vertx.core.Vertx;
import java.io.Closeable;
import java.io.IOException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Follows the engine's event stream for containers the agent labelled ({@code die}, {@code oom},
 * {@code health_status}, {@code destroy}, {@code stop}, {@code kill}, {@code start}); docker-java
 * delivers them on its stream thread. When the stream ends (the daemon restarted or went away) a
 * Vert.x timer reconnects with a capped backoff, and {@code onConnected} runs after every
 * (re)connection so the caller resyncs: nothing that happened while disconnected is lost, because
 * every reconcile reads the whole observed state. The client given is its own: closed with it.
 */
public final class DockerEvents implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(DockerEvents.class);
  private static final long FIRST_BACKOFF_MS = 250;
  private static final long MAX_BACKOFF_MS = 5_000;

  private final Vertx vertx;
  private final DockerClient docker;
  private final Consumer<Event> onEvent;
  private final Runnable onConnected;
  private volatile boolean closed;
  private volatile boolean connected;
  private volatile ResultCallback.Adapter<Event> current;
  private long backoffMs = FIRST_BACKOFF_MS;
  private boolean wasDown;

  public DockerEvents(
      Vertx vertx, DockerClient docker, Consumer<Event> onEvent, Runnable onConnected) {
    this.vertx = vertx;
    this.docker = docker;
    this.onEvent = onEvent;
    this.onConnected = onConnected;
  }

  public DockerEvents start() {
    connect();
    return this;
  }

  public boolean connected() {
    return connected;
  }

  /** Pings and subscribes off the event loop; a failure or the stream's end schedules a retry. */
  private void connect() {
    if (closed) {
      return;
    }
    vertx
        .executeBlocking(
            () -> {
              docker.pingCmd().exec();
              ResultCallback.Adapter<Event> cb = new Stream();
              current = cb;
              docker
                  .eventsCmd()
                  .withEventTypeFilter(EventType.CONTAINER)
                  .withLabelFilter(ComposeRuntime.LABEL_DEPLOYMENT)
                  .withEventFilter(
                      "die", "oom", "health_status", "destroy", "stop", "kill", "start")
                  .exec(cb);
              if (closed) {
                // Closed while subscribing: close() may not have seen this stream.
                closeQuietly(cb);
              }
              return null;
            },
            false)
        .onSuccess(
            v -> {
              connected = true;
              if (wasDown) {
                LOG.info("docker: event stream reconnected; resyncing");
              }
              wasDown = false;
              backoffMs = FIRST_BACKOFF_MS;
              onConnected.run();
            })
        .onFailure(err -> lost(err));
  }

  /** The stream failed or ended: retry after the backoff, on a Vert.x timer. */
  private void lost(Throwable err) {
    connected = false;
    if (closed) {
      return;
    }
    if (!wasDown) {
      LOG.warn(
          "docker: engine not reachable ({}); retrying",
          err == null
              ? "stream ended"
              : err.getMessage() != null ? err.getMessage() : err.getClass().getSimpleName());
    }
    wasDown = true;
    long delay = backoffMs;
    backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS);
    vertx.setTimer(delay, id -> connect());
  }

  /**
   * One subscription: hands events on, and reports its end to {@link #lost} once. A stream that
   * starts after it was closed closes itself: docker-java's close only reaches a stream that has
   * started, and one left open runs on, past the agent's stop.
   */
  private final class Stream extends ResultCallback.Adapter<Event> {
    private final AtomicBoolean reported = new AtomicBoolean();

    @Override
    public void onStart(Closeable stream) {
      super.onStart(stream);
      if (closed) {
        closeQuietly(this);
      }
    }

    @Override
    public void onNext(Event e) {
      try {
        onEvent.accept(e);
      } catch (RuntimeException ex) {
        LOG.warn("docker event {} not handled: {}", e.getAction(), ex.toString());
      }
    }

    @Override
    public void onError(Throwable t) {
      // The daemon stopped or restarted: said once by lost(), not as docker-java's ERROR trace.
      closeQuietly(this);
      ended(t);
    }

    @Override
    public void onComplete() {
      super.onComplete();
      ended(null);
    }

    private void ended(Throwable t) {
      if (reported.compareAndSet(false, true) && current == this && !closed) {
        vertx.runOnContext(v -> lost(t));
      }
    }
  }

  @Override
  public void close() {
    closed = true;
    ResultCallback.Adapter<Event> cb = current;
    if (cb != null) {
      closeQuietly(cb);
    }
    try {
      docker.close();
    } catch (IOException | RuntimeException e) {
      LOG.debug("closing the events' Docker client: {}", e.toString());
    }
  }

  private static void closeQuietly(ResultCallback.Adapter<Event> stream) {
    try {
      stream.close();
    } catch (Exception ignored) {
      // Closing reports ClosedByInterruptException to onError: a normal stop.
    }
  }
}
