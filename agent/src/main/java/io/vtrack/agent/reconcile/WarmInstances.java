package io.vtrack.agent.reconcile;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vtrack.agent.model.DeploymentSpec;
import io.vtrack.agent.store.Instance;
import io.vtrack.agent.store.StateStore;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Blue-green: the instance that served before the last switch stays warm for {@code keepWarm} (a
 * rollback is then a switch back), and is stopped when that time is up — after the requests still
 * in flight to it finish, at most {@code drainTimeout}. Confined to the agent's context; the stop
 * runs on a worker, inside the deployment's slot.
 */
final class WarmInstances {
  private static final Logger LOG = LoggerFactory.getLogger(WarmInstances.class);

  private final Vertx vertx;
  private final StateStore store;
  private final BlueGreenSteps blueGreen;
  private final Consumer<String> enqueue;
  private final Map<String, Long> timers = new HashMap<>();

  WarmInstances(Vertx vertx, StateStore store, BlueGreenSteps blueGreen, Consumer<String> enqueue) {
    this.vertx = vertx;
    this.store = store;
    this.blueGreen = blueGreen;
    this.enqueue = enqueue;
  }

  /** Stops the warm instance whose time is up (true), or looks again when it will be. */
  Future<Boolean> retireDue(String name, Snapshot snap) {
    Instance warm = snap.inRole(Instance.Role.Warm);
    Long timer = timers.remove(name);
    if (timer != null) {
      vertx.cancelTimer(timer);
    }
    if (warm == null || warm.warmUntil() == null) {
      return Future.succeededFuture(false);
    }
    Instant until = Instant.parse(warm.warmUntil());
    long wait = Duration.between(Instant.now(), until).toMillis();
    if (wait > 0) {
      timers.put(
          name,
          vertx.setTimer(
              wait,
              id -> {
                timers.remove(name);
                enqueue.accept(name);
              }));
      return Future.succeededFuture(false);
    }
    DeploymentSpec spec = snap.doc() == null ? null : snap.doc().spec();
    Duration drain =
        spec != null && spec.blueGreen() != null
            ? spec.blueGreen().drainTimeout().duration()
            : Duration.ofSeconds(30);
    return vertx.executeBlocking(
        () -> {
          String said = blueGreen.stop(warm, drain);
          store
              .events()
              .add(
                  name,
                  "WarmStopped",
                  null,
                  StepRecorder.saying(
                      "the warm "
                          + warm.colour()
                          + " instance of "
                          + StatusBuilder.short7(warm.commit())
                          + " stopped: keepWarm is over",
                      said));
          LOG.info(
              "{}: warm {} instance of {} stopped",
              name,
              warm.colour(),
              StatusBuilder.short7(warm.commit()));
          return true;
        },
        false);
  }

  void stop() {
    timers.values().forEach(vertx::cancelTimer);
    timers.clear();
  }
}
