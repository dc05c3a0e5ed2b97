package io.vtrack.agent.reconcile;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vtrack.agent.LogSetup;
import io.vtrack.agent.model.DeploymentSpec;
import io.vtrack.agent.model.Reason;
import io.vtrack.agent.release.DeploymentPaths;
import io.vtrack.agent.release.ReleaseBuilder;
import io.vtrack.agent.runtime.Runtimes;
import io.vtrack.agent.store.Instance;
import io.vtrack.agent.store.StateStore;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.event.Level;

/**
 * Restarts what runs when it died or its checks keep failing (DESIGN.md §2): never a rollback of a
 * verified commit. Uses the spec the commit runs with. Blocking: call from a worker.
 */
final class SelfHeal {
  private static final Logger LOG = LoggerFactory.getLogger(SelfHeal.class);

  private final Vertx vertx;
  private final StateStore store;
  private final Runtimes runtime;
  private final ReleaseBuilder releases;
  private final Path stateDir;

  private final ProxyRoutes proxyRoutes;

  SelfHeal(
      Vertx vertx,
      StateStore store,
      Runtimes runtime,
      ReleaseBuilder releases,
      Path stateDir,
      ProxyRoutes proxyRoutes) {
    this.vertx = vertx;
    this.store = store;
    this.runtime = runtime;
    this.releases = releases;
    this.stateDir = stateDir;
    this.proxyRoutes = proxyRoutes;
  }

  /** A restart due at {@code at}, after its backoff: {@code name} is enqueued then (once). */
  void later(String name, Instant at, DeploymentState s, Consumer<String> enqueue) {
    if (s.healTimer == null) {
      long delay = Math.max(1, Duration.between(Instant.now(), at).toMillis());
      s.healTimer =
          vertx.setTimer(
              delay,
              id -> {
                s.healTimer = null;
                enqueue.accept(name);
              });
    }
  }

  /**
   * Writes the switch proxy's routes of the live instance again ({@code why}: routes.json edited,
   * lost or unreadable); false when it could not, to be tried at the next reconcile (the next poll,
   * or the proxy watch).
   */
  Future<Boolean> reroute(String name, Snapshot snap, String why) {
    Instance live =
        snap.instances().stream()
            .filter(i -> i.role() == Instance.Role.Live)
            .findFirst()
            .orElseThrow();
    return vertx
        .executeBlocking(
            () -> {
              proxyRoutes.reroute(name, live, why);
              return true;
            },
            false)
        .otherwise(
            err -> {
              LOG.warn("{}: cannot write its routes again: {}", name, err.getMessage());
              return false;
            });
  }

  /**
   * Restarts on the agent's context: the attempt and its backoff are counted in {@code s} first,
   * then the restart runs on a worker. Degraded until a monitoring round passes.
   */
  Future<Void> heal(Snapshot snap, Step.Heal heal, DeploymentState s) {
    String name = snap.desired().name();
    s.healAttempts++;
    s.healNotBefore = Instant.now().plusMillis(ErrorMapping.backoffMillis(s.healAttempts));
    LogSetup.about(LOG, Level.WARN, name, null, snap.row().currentCommit())
        .log("{}: self-heal ({}), attempt {}", name, heal.why(), s.healAttempts);
    s.degraded = false;
    s.failingRounds = 0;
    s.recovering = true;
    int attempt = s.healAttempts;
    DeploymentPaths paths = DeploymentPaths.of(stateDir, name);
    return vertx
        .<Void>executeBlocking(
            () -> {
              restart(snap, heal, attempt, paths);
              return null;
            },
            false)
        // Rounds that ran while it restarted (a compose stop can take a grace period per
        // container) saw it down: only rounds after the restart count toward the next attempt,
        // and the next attempt waits for one of them, and for its backoff from the restart's end.
        .onComplete(
            done -> {
              s.failingRounds = 0;
              s.healVerdictAfterNanos = System.nanoTime();
              Instant notBefore = Instant.now().plusMillis(ErrorMapping.backoffMillis(attempt));
              if (s.healNotBefore == null || s.healNotBefore.isBefore(notBefore)) {
                s.healNotBefore = notBefore;
              }
            });
  }

  private void restart(Snapshot snap, Step.Heal heal, int attempt, DeploymentPaths paths)
      throws Exception {
    String name = snap.desired().name();
    String commit = snap.row().currentCommit();
    DeploymentSpec spec = snap.specOfWhatRuns();
    store
        .events()
        .add(name, "SelfHeal", Reason.Degraded.name(), heal.why() + " (attempt " + attempt + ")");
    Path release = releases.build(paths, snap.source().effectiveRepoUrl(), commit, spec).dir();
    // Blue-green: the live instance restarts on its own ports, behind the same public address.
    Target target = Target.ofWhatRuns(snap, paths);
    Map<String, String> env =
        RolloutSteps.serviceEnv(name, commit, snap.desired().revision(), paths);
    env.putAll(target.portEnv());
    String key = target.runtimeKey();
    if (heal.all()) {
      runtime.stopForReplacement(key, spec.runtime(), spec.runtime());
      runtime.start(key, commit, release, target.substitute(spec.runtime()), target.logsDir(), env);
    } else {
      runtime.restart(
          key,
          commit,
          release,
          target.substitute(spec.runtime()),
          heal.services(),
          target.logsDir(),
          env);
    }
  }
}
