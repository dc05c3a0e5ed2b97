package io.vtrack.agent;

import io.vertx.core.Vertx;

/**
 * Tells {@code /readyz} when the agent itself is stuck: every second a no-op goes through the
 * worker pool that reconciles and the API use; when one has not come back within {@link
 * #STUCK_NANOS}, the agent says so instead of claiming to be ready while nothing moves.
 */
final class Watchdog {
  private static final long STUCK_NANOS = 10_000_000_000L;

  private final Vertx vertx;
  private volatile long probeStarted = -1;
  private long timer = -1;

  Watchdog(Vertx vertx) {
    this.vertx = vertx;
  }

  void start() {
    timer = vertx.setPeriodic(1000, id -> probe());
  }

  void stop() {
    if (timer >= 0) {
      vertx.cancelTimer(timer);
    }
  }

  private void probe() {
    if (probeStarted >= 0) {
      return;
    }
    probeStarted = System.nanoTime();
    vertx.executeBlocking(() -> null, false).onComplete(ar -> probeStarted = -1);
  }

  /** Why the agent is stuck, or null when its workers answer. */
  String stuck() {
    long started = probeStarted;
    if (started < 0) {
      return null;
    }
    long waited = System.nanoTime() - started;
    return waited > STUCK_NANOS
        ? "the agent's worker pool has not answered for " + waited / 1_000_000_000L + "s"
        : null;
  }
}
