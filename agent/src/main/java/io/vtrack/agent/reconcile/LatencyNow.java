package io.vtrack.agent.reconcile;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vtrack.agent.check.Baselined;
import io.vtrack.agent.check.CheckFactory;
import io.vtrack.agent.check.CheckStatus;
import io.vtrack.agent.check.HealthCheck;
import io.vtrack.agent.model.DeploymentSpec;
import io.vtrack.agent.store.RolloutRecord;
import io.vtrack.agent.store.StateStore;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * Recreate: the latency of the last healthy commit on this host as it is now, measured just before
 * it stops. Its baseline was recorded when it was verified, maybe on an idle host; a host that got
 * busier since would make a good revision look slower. Verification compares with the higher of the
 * two, so the host's load is not taken for a regression while a revision that is slower than both
 * still is. (Blue-green samples the live instance side by side instead.)
 */
final class LatencyNow {
  /** The key of these medians in a rollout's marks. */
  static final String MARK = "latencyNow";

  private final Vertx vertx;
  private final StateStore store;
  private final CheckBuilder builder;
  private final StepRecorder steps;

  LatencyNow(Vertx vertx, StateStore store, CheckBuilder builder, StepRecorder steps) {
    this.vertx = vertx;
    this.store = store;
    this.builder = builder;
    this.steps = steps;
  }

  private record Started(long step, List<HealthCheck> checks) {}

  /**
   * Whether a rollout to {@code toCommit} measures what {@code snap} runs first: a recreate rollout
   * (not one an operator asked for, which goes as fast as it can) from the last healthy commit,
   * with a latency check. {@code vtrack plan} asks the same.
   */
  static boolean measures(Snapshot snap, DeploymentSpec spec, String toCommit, boolean manual) {
    String running = snap.row().currentCommit();
    return spec.blueGreen() == null
        && !manual
        && running != null
        && !running.equals(toCommit)
        && running.equals(snap.row().lastHealthyCommit())
        && snap.instances().isEmpty()
        && spec.health().checks().stream().anyMatch(c -> c.latency() != null);
  }

  /**
   * The median of each latency check of the rollout's spec on what runs now, by baseline key, when
   * {@link #measures} and what runs answers; empty otherwise and on a resumed rollout (what ran may
   * have stopped). Recorded as the step {@code measure-live}. Call on the agent's context: the
   * checks run on it.
   */
  Future<Map<String, Double>> measure(StageInput in) {
    RolloutRecord r = in.rollout();
    String running = in.snap().row().currentCommit();
    if (!measures(in.snap(), in.spec(), r.toCommit(), r.manual())) {
      return Future.succeededFuture(Map.of());
    }
    return vertx
        .executeBlocking(
            () -> {
              if (store.rollouts().marks(r.id()).isPresent()) {
                return null;
              }
              List<HealthCheck> latency =
                  builder
                      .build(
                          in.name(),
                          in.spec(),
                          running,
                          running,
                          running,
                          in.paths(),
                          Target.recreate(in.name(), in.paths()),
                          null,
                          false,
                          null)
                      .stream()
                      .filter(c -> c.spec().latency() != null)
                      .toList();
              return new Started(steps.start(r, "measure-live"), latency);
            },
            false)
        .compose(
            s -> {
              if (s == null) {
                return Future.succeededFuture(Map.of());
              }
              Map<String, Double> out = new TreeMap<>();
              List<String> said = new ArrayList<>();
              Future<Void> chain = Future.succeededFuture();
              for (HealthCheck c : s.checks()) {
                chain = chain.compose(v -> median(c, out).map(m -> said.add(m)).mapEmpty());
              }
              return chain.compose(
                  v ->
                      vertx.executeBlocking(
                          () -> {
                            steps.end(
                                r,
                                s.step(),
                                "measure-live",
                                true,
                                "latency of "
                                    + StatusBuilder.short7(running)
                                    + " before it stops (the higher of this and its recorded"
                                    + " baseline is compared): "
                                    + String.join("; ", said));
                            return out;
                          },
                          false));
            });
  }

  /**
   * Runs one latency check on what runs, within the time its samples may take; puts its median into
   * {@code out} and says what it saw.
   */
  private static Future<String> median(HealthCheck c, Map<String, Double> out) {
    String name = c.spec().name() + ": ";
    return c.run()
        .timeout(c.boundMillis(), TimeUnit.MILLISECONDS)
        .map(
            res -> {
              Double median = ((Baselined) c).baselineValue();
              if (res.status() != CheckStatus.Passing || median == null) {
                return name + "not measured (" + res.message() + ")";
              }
              out.put(CheckFactory.baselineKey(c.spec()), median);
              return name + String.format(Locale.ROOT, "median %.1fms", median);
            })
        .otherwise(err -> name + "not measured (" + err.getMessage() + ")");
  }
}
