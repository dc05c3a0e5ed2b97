package io.vtrack.agent.reconcile;

import io.vertx.core.Vertx;
import io.vtrack.agent.LogSetup;
import io.vtrack.agent.check.CheckRound;
import io.vtrack.agent.check.Failure;
import io.vtrack.agent.check.HealthCheck;
import io.vtrack.agent.metrics.AgentMetrics;
import io.vtrack.agent.model.DeploymentSpec;
import io.vtrack.agent.model.NotifySpec;
import io.vtrack.agent.release.DeploymentPaths;
import io.vtrack.agent.store.StateStore;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.event.Level;

/**
 * After Healthy, checks keep running every {@code interval} on what runs (DESIGN.md §2): one watch
 * per deployment, rebuilt when the commit or the document changes. A round is skipped while the
 * deployment's slot is busy (a rollout or a heal is acting on it). Confined to the agent's context;
 * building checks runs on a worker.
 */
final class HealthMonitor {
  private static final Logger LOG = LoggerFactory.getLogger(HealthMonitor.class);

  private final Vertx vertx;
  private final CheckBuilder builder;
  private final Path stateDir;
  private final Predicate<String> busy;
  private final Function<String, DeploymentState> states;
  private final StatusPublisher publisher;
  private final StateStore store;
  private final AgentMetrics metrics;
  private final Consumer<String> enqueue;
  private final Map<String, Watch> watches = new HashMap<>();
  private boolean stopped;

  private static final class Watch {
    final String commit;
    final String generation;
    final long intervalMs;
    final int failureThreshold;
    final List<NotifySpec> notify;
    List<HealthCheck> checks;
    long timer = -1;
    long due;
    boolean inFlight;

    Watch(String commit, String generation, DeploymentSpec spec) {
      this.commit = commit;
      this.generation = generation;
      this.intervalMs = spec.health().interval().millis();
      this.failureThreshold = spec.health().failureThreshold();
      this.notify = spec.notifications();
    }
  }

  /**
   * @param busy whether a deployment's slot is acting on it now
   * @param states the loop-owned state of each deployment
   * @param enqueue asks for a reconcile (Degraded or recovered; building the checks failed)
   */
  HealthMonitor(
      Vertx vertx,
      CheckBuilder builder,
      Path stateDir,
      Predicate<String> busy,
      Function<String, DeploymentState> states,
      StatusPublisher publisher,
      StateStore store,
      AgentMetrics metrics,
      Consumer<String> enqueue) {
    this.vertx = vertx;
    this.builder = builder;
    this.stateDir = stateDir;
    this.busy = busy;
    this.states = states;
    this.publisher = publisher;
    this.store = store;
    this.metrics = metrics;
    this.enqueue = enqueue;
  }

  /** Watches the verified commit that runs, with the document's health policy. */
  void ensure(String name, Snapshot snap) {
    String current = snap.row().currentCommit();
    DeploymentSpec spec =
        snap.observed().specChanged()
            ? snap.specOfWhatRuns()
            : snap.doc() == null ? null : snap.doc().spec();
    if (stopped || current == null || !snap.verified().contains(current) || spec == null) {
      stop(name);
      return;
    }
    String generation = snap.desired().generation();
    Watch w = watches.get(name);
    if (w != null && current.equals(w.commit) && generation.equals(w.generation)) {
      return;
    }
    stop(name);
    Watch watch = new Watch(current, generation, spec);
    watches.put(name, watch);
    vertx
        .executeBlocking(
            () ->
                builder.build(
                    name,
                    spec,
                    snap.desired().revision(),
                    snap.row().lastHealthyCommit(),
                    current,
                    DeploymentPaths.of(stateDir, name),
                    Target.ofWhatRuns(snap, DeploymentPaths.of(stateDir, name)),
                    null,
                    false,
                    null),
            false)
        .onSuccess(
            checks -> {
              if (watches.get(name) == watch) {
                watch.checks = checks;
                schedule(name, watch);
              }
            })
        .onFailure(
            err -> {
              LOG.warn("{}: cannot build checks, retrying: {}", name, err.getMessage());
              if (watches.get(name) == watch) {
                watches.remove(name);
                vertx.setTimer(watch.intervalMs, id -> enqueue.accept(name));
              }
            });
  }

  void stop(String name) {
    Watch w = watches.remove(name);
    if (w != null && w.timer >= 0) {
      vertx.cancelTimer(w.timer);
    }
  }

  void stopAll() {
    stopped = true;
    List.copyOf(watches.keySet()).forEach(this::stop);
  }

  private void schedule(String name, Watch w) {
    w.due = System.nanoTime() + Math.max(1, w.intervalMs) * 1_000_000;
    w.timer = vertx.setTimer(Math.max(1, w.intervalMs), id -> round(name, w));
  }

  private void round(String name, Watch w) {
    if (watches.get(name) != w || stopped) {
      return;
    }
    if (busy.test(name) || w.inFlight) {
      schedule(name, w);
      return;
    }
    metrics.roundLate(System.nanoTime() - w.due);
    w.inFlight = true;
    long startedNanos = System.nanoTime();
    CheckRound.run(vertx, w.checks)
        .onComplete(
            ar -> {
              w.inFlight = false;
              if (watches.get(name) != w) {
                return;
              }
              if (ar.succeeded()) {
                judge(name, w, ar.result(), startedNanos);
              }
              if (watches.get(name) == w) {
                schedule(name, w);
              }
            });
  }

  /** Whether every check of {@code round} that failed failed for the host's trouble. */
  private static boolean hostOnly(CheckRound round) {
    return round.results().stream()
        .filter(c -> !c.passing())
        .allMatch(c -> c.failure() == Failure.HostUnavailable);
  }

  /**
   * A round of what runs: {@code failureThreshold} failing rounds in a row make it Degraded (and a
   * reconcile self-heals it); a passing round after a heal ends the recovery.
   */
  private void judge(String name, Watch w, CheckRound round, long startedNanos) {
    DeploymentState s = states.apply(name);
    if (s.healVerdictAfterNanos != 0 && startedNanos - s.healVerdictAfterNanos > 0) {
      // The first look at what the last self-heal restarted: the next attempt may be decided.
      s.healVerdictAfterNanos = 0;
    }
    s.checks = round.results();
    round.results().forEach(c -> metrics.checkRan(name, c));
    boolean wasDegraded = s.degraded;
    boolean wasRecovering = s.recovering;
    if (round.passing()) {
      s.failingRounds = 0;
      s.degraded = false;
      s.recovering = false;
      if (s.healNotBefore != null && Instant.now().isAfter(s.healNotBefore)) {
        s.healAttempts = 0;
        s.healNotBefore = null;
      }
    } else if (hostOnly(round)) {
      // Nothing was learnt about what runs: the checks that failed could not run for the host's
      // trouble (the Docker Engine away while its containers serve). It neither counts toward
      // Degraded nor ends it (DESIGN.md §2: the host is never held against the commit).
    } else if (++s.failingRounds >= w.failureThreshold) {
      s.degraded = true;
    }
    if (wasRecovering && !s.recovering) {
      enqueue.accept(name);
    } else if (s.degraded != wasDegraded) {
      String msg =
          s.degraded
              ? "checks failed " + s.failingRounds + " rounds in a row: " + round.failures()
              : "checks pass again";
      LogSetup.about(LOG, Level.WARN, name, null, w.commit).log("{}: {}", name, msg);
      boolean degraded = s.degraded;
      vertx.executeBlocking(
          () -> {
            store.events().add(name, degraded ? "Degraded" : "Recovered", null, msg);
            return null;
          },
          false);
      enqueue.accept(name);
    } else {
      publisher.refresh(name, s, w.notify);
    }
  }
}
