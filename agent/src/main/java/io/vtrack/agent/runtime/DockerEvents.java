package io.vtrack.agent.runtime;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.async.ResultCallback;
import com.github.dockerjava.api.model.Event;
import com.github.dockerjava.api.model.EventType;
import java.io.Closeable;
import java.time.Duration;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Follows the engine's event stream for containers the agent labelled ({@code die}, {@code oom},
 * {@code health_status}, {@code destroy}, {@code stop}, {@code kill}) on a thread of its own. When
 * the stream ends (the daemon restarted or went away) it reconnects with a capped backoff and then
 * calls {@code onConnected}, so the caller resyncs: nothing that happened while disconnected is
 * lost, because every reconcile reads the whole observed state.
 */
public final class DockerEvents implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(DockerEvents.class);

  private final DockerClient docker;
  private final Consumer<Event> onEvent;
  private final Runnable onConnected;
  private final Thread thread;
  private volatile boolean closed;
  private volatile ResultCallback.Adapter<Event> current;
  private volatile boolean connected;

  public DockerEvents(DockerClient docker, Consumer<Event> onEvent, Runnable onConnected) {
    this.docker = docker;
    this.onEvent = onEvent;
    this.onConnected = onConnected;
    this.thread = new Thread(this::run, "vtrack-docker-events");
    this.thread.setDaemon(true);
  }

  public DockerEvents start() {
    thread.start();
    return this;
  }

  public boolean connected() {
    return connected;
  }

  private void run() {
    Duration backoff = Duration.ofMillis(250);
    boolean wasDown = false;
    while (!closed) {
      try {
        docker.pingCmd().exec();
        ResultCallback.Adapter<Event> cb =
            new ResultCallback.Adapter<>() {
              @Override
              public void onNext(Event e) {
                try {
                  onEvent.accept(e);
                } catch (RuntimeException ex) {
                  LOG.warn("docker event {} not handled: {}", e.getAction(), ex.toString());
                }
              }
            };
        current = cb;
        docker
            .eventsCmd()
            .withEventTypeFilter(EventType.CONTAINER)
            .withLabelFilter(ComposeRuntime.LABEL_DEPLOYMENT)
            .withEventFilter("die", "oom", "health_status", "destroy", "stop", "kill", "start")
            .exec(cb);
        connected = true;
        if (wasDown) {
          LOG.info("docker: event stream reconnected; resyncing");
        }
        backoff = Duration.ofMillis(250);
        onConnected.run();
        cb.awaitCompletion();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      } catch (RuntimeException e) {
        if (!closed && !wasDown) {
          LOG.warn("docker: engine not reachable ({}); retrying", e.toString());
        }
      }
      connected = false;
      if (closed) {
        return;
      }
      wasDown = true;
      try {
        Thread.sleep(backoff.toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      backoff =
          backoff.multipliedBy(2).compareTo(Duration.ofSeconds(5)) > 0
              ? Duration.ofSeconds(5)
              : backoff.multipliedBy(2);
    }
  }

  @Override
  public void close() {
    closed = true;
    ResultCallback.Adapter<Event> cb = current;
    if (cb != null) {
      try {
        cb.close();
      } catch (Exception ignored) {
        // Closing reports ClosedByInterruptException to onError: a normal stop.
      }
    }
    thread.interrupt();
  }
}
