package io.vtrack.agent.reconcile;

import io.vtrack.agent.check.Baselined;
import io.vtrack.agent.check.CheckFactory;
import io.vtrack.agent.check.CheckResult;
import io.vtrack.agent.check.CheckStatus;
import io.vtrack.agent.check.HealthCheck;
import io.vtrack.agent.store.RolloutRecord;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Recreate: the latency of the last healthy commit on this host as it is now, measured just before
 * it stops. Its baseline was recorded when it was verified, maybe on an idle host; a host that got
 * busier since would make a good revision look slower. Verification compares with the higher of the
 * two, so the host's load is not taken for a regression while a revision that is slower than both
 * still is. (Blue-green samples the live instance side by side instead.)
 */
final class LatencyNow {
  private static final Logger LOG = LoggerFactory.getLogger(LatencyNow.class);

  /** The key of these medians in a rollout's marks. */
  static final String MARK = "latencyNow";

  private final CheckBuilder builder;
  private final StepRecorder steps;

  LatencyNow(CheckBuilder builder, StepRecorder steps) {
    this.builder = builder;
    this.steps = steps;
  }

  /**
   * The median of each latency check of the rollout's spec on what runs now, by baseline key, when
   * what runs is the last healthy commit and it answers; empty otherwise (and for a rollback an
   * operator asked for, which goes as fast as it can). Recorded as the step {@code measure-live}.
   * Blocking: call from a worker.
   */
  Map<String, Double> measure(StageInput in) throws Exception {
    RolloutRecord r = in.rollout();
    String running = in.snap().row().currentCommit();
    boolean latencyChecked =
        in.spec().health().checks().stream().anyMatch(c -> c.latency() != null);
    if (!latencyChecked
        || r.manual()
        || running == null
        || running.equals(r.toCommit())
        || !running.equals(in.snap().row().lastHealthyCommit())
        || !in.snap().instances().isEmpty()) {
      return Map.of();
    }
    Map<String, Double> out = new TreeMap<>();
    steps.run(
        r,
        "measure-live",
        () -> {
          List<String> said = new ArrayList<>();
          for (HealthCheck c :
              builder.build(
                  in.name(),
                  in.spec(),
                  running,
                  running,
                  running,
                  in.paths(),
                  Target.recreate(in.name(), in.paths()),
                  null,
                  false,
                  null)) {
            if (c.spec().latency() == null) {
              continue;
            }
            said.add(c.spec().name() + ": " + median(c, out));
          }
          return "latency of "
              + StatusBuilder.short7(running)
              + " before it stops (the higher of this and its recorded baseline is compared): "
              + String.join("; ", said);
        });
    return out;
  }

  /** Runs one latency check on what runs; puts its median into {@code out}; says what it saw. */
  private static String median(HealthCheck c, Map<String, Double> out) {
    long limit = c.spec().effectiveTimeout().millis();
    try {
      CheckResult res =
          c.run().toCompletionStage().toCompletableFuture().get(limit, TimeUnit.MILLISECONDS);
      Double median = ((Baselined) c).baselineValue();
      if (res.status() != CheckStatus.Passing || median == null) {
        return "not measured (" + res.message() + ")";
      }
      out.put(CheckFactory.baselineKey(c.spec()), median);
      return String.format(Locale.ROOT, "median %.1fms", median);
    } catch (java.util.concurrent.TimeoutException e) {
      return "not measured (no answer within " + c.spec().effectiveTimeout().text() + ")";
    } catch (Exception e) {
      LOG.debug("latency of what runs not measured", e);
      return "not measured (" + e.getMessage() + ")";
    }
  }
}
