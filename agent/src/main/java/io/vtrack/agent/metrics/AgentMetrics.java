package io.vtrack.agent.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vtrack.agent.check.CheckResult;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/** The agent's Prometheus metrics: rollouts, checks and the reconcile queue. */
public final class AgentMetrics {
  private final PrometheusMeterRegistry registry =
      new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);

  private final Timer roundLateness =
      Timer.builder("vtrack_check_round_lateness")
          .description(
              "How much later than its interval a monitoring round starts: the agent's own load")
          .publishPercentiles(0.5, 0.99)
          .register(registry);

  private final Map<String, Map<String, AtomicInteger>> phases = new ConcurrentHashMap<>();

  /**
   * The phase of a deployment as a state set: {@code vtrack_deployment_phase{phase=...}} is 1 for
   * the phase it is in and 0 for every other (null: the deployment is gone, all 0).
   */
  public void phase(String deployment, String phase) {
    var gauges =
        phases.computeIfAbsent(
            deployment,
            d -> {
              var m = new LinkedHashMap<String, AtomicInteger>();
              for (io.vtrack.agent.model.Phase p : io.vtrack.agent.model.Phase.values()) {
                var v = new AtomicInteger();
                Gauge.builder("vtrack_deployment_phase", v, AtomicInteger::get)
                    .description("1 for the phase a deployment is in, 0 for the others")
                    .tag("deployment", d)
                    .tag("phase", p.name())
                    .register(registry);
                m.put(p.name(), v);
              }
              return m;
            });
    gauges.forEach((p, v) -> v.set(p.equals(phase) ? 1 : 0));
  }

  /** A step of a rollout ended (backup, switch, ...): counted by step and result. */
  public void stepEnded(String deployment, String step, String result) {
    Counter.builder("vtrack_rollout_steps_total")
        .description("Rollout steps by step and result")
        .tag("deployment", deployment)
        .tag("step", step)
        .tag("result", result)
        .register(registry)
        .increment();
  }

  /** A monitoring round started {@code nanos} after it was due. */
  public void roundLate(long nanos) {
    roundLateness.record(Math.max(0, nanos), TimeUnit.NANOSECONDS);
  }

  public PrometheusMeterRegistry registry() {
    return registry;
  }

  public void queueDepth(Supplier<Number> depth) {
    Gauge.builder("vtrack_reconcile_queue_depth", depth)
        .description("Deployments waiting for or in a reconcile")
        .register(registry);
  }

  public void rolloutFinished(String deployment, String result, Duration duration) {
    Counter.builder("vtrack_rollouts_total")
        .description("Rollouts by result")
        .tag("deployment", deployment)
        .tag("result", result)
        .register(registry)
        .increment();
    Timer.builder("vtrack_rollout_duration")
        .description("Rollout durations by result")
        .tag("deployment", deployment)
        .tag("result", result)
        .register(registry)
        .record(duration);
  }

  public void checkRan(String deployment, CheckResult r) {
    Counter.builder("vtrack_check_results_total")
        .description("Check results by check and status")
        .tag("deployment", deployment)
        .tag("check", r.name())
        .tag("kind", r.kind() == null ? "" : r.kind())
        .tag("status", r.status().name())
        .register(registry)
        .increment();
    Timer.builder("vtrack_check_duration")
        .description("Check durations")
        .tag("deployment", deployment)
        .tag("check", r.name())
        .register(registry)
        .record(Duration.ofMillis(r.durationMs()));
  }

  public String scrape() {
    return registry.scrape();
  }
}
