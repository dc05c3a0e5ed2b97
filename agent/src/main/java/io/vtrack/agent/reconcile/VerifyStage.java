package io.vtrack.agent.reconcile;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vtrack.agent.check.CheckFactory;
import io.vtrack.agent.check.CheckResult;
import io.vtrack.agent.check.FileGrowth;
import io.vtrack.agent.check.HealthCheck;
import io.vtrack.agent.metrics.AgentMetrics;
import io.vtrack.agent.model.DeploymentSpec;
import io.vtrack.agent.model.Reason;
import io.vtrack.agent.runtime.AppRuntime;
import io.vtrack.agent.runtime.Runtimes;
import io.vtrack.agent.store.RolloutRecord;
import io.vtrack.agent.store.RolloutRepository.CheckRow;
import io.vtrack.agent.store.StateStore;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import tools.jackson.databind.json.JsonMapper;

/**
 * Verifies a commit of a rollout (DESIGN.md §2, check semantics): the new revision, or the last
 * healthy one it rolls back to. First makes the world match the store (a service of the commit that
 * should run and does not is started: after power loss, the agent resumes here with nothing
 * running), then runs {@link Verification} on timers, recording every round.
 */
final class VerifyStage {
  private static final JsonMapper JSON = JsonMapper.builder().build();

  private final Vertx vertx;
  private final StateStore store;
  private final Runtimes runtime;
  private final CheckBuilder checkBuilder;
  private final RolloutSteps steps;
  private final StepRecorder recorder;
  private final AgentMetrics metrics;
  private final EventStream events;
  private final BiConsumer<String, List<CheckResult>> onRound;

  /** The verification running per deployment (one at a time: the deployment's slot runs it). */
  private final Map<String, Verification> running = new HashMap<>();

  /** Tells verifications when the logs their checks count are written. */
  private final FileGrowth files = new FileGrowth();

  /** How a verification ended, with its message and, when healthy, the baselines it measured. */
  record Verdict(Verification.Outcome outcome, String message, String baselinesJson) {
    boolean healthy() {
      return outcome.healthy();
    }

    Reason reason() {
      return outcome.reason();
    }
  }

  /**
   * @param onRound called on the agent's context with each round's results (status, metrics)
   */
  VerifyStage(
      Vertx vertx,
      StateStore store,
      Runtimes runtime,
      CheckBuilder checkBuilder,
      RolloutSteps steps,
      StepRecorder recorder,
      AgentMetrics metrics,
      EventStream events,
      BiConsumer<String, List<CheckResult>> onRound) {
    this.vertx = vertx;
    this.store = store;
    this.runtime = runtime;
    this.checkBuilder = checkBuilder;
    this.steps = steps;
    this.recorder = recorder;
    this.metrics = metrics;
    this.events = events;
    this.onRound = onRound;
  }

  /**
   * Verifies {@code commit} run with {@code spec}; {@code mode} says whether it is new or known to
   * be good. The future fails only for the host's failures (the store, the runtime).
   *
   * @param resumed the services were not started by this agent process just before (it restarted or
   *     retries): first start those that do not run
   */
  Future<Verdict> verify(
      StageInput in,
      String commit,
      DeploymentSpec spec,
      Target target,
      Verification.Mode mode,
      boolean resumed) {
    return mode == Verification.Mode.VERIFY
        ? verify(in, commit, spec, target, mode, resumed, "verify", "Verifying")
        : verify(in, commit, spec, target, mode, resumed, "verify-rollback", "RollingBack");
  }

  /**
   * Verifies a new revision on a copy of the data ({@code in} carries the preview's paths): the
   * same rules, recorded as the step {@code preview-verify} and the stage {@code Previewing}.
   */
  Future<Verdict> preview(StageInput in, String commit, DeploymentSpec spec, Target target) {
    return verify(
        in, commit, spec, target, Verification.Mode.VERIFY, false, "preview-verify", "Previewing");
  }

  private Future<Verdict> verify(
      StageInput in,
      String commit,
      DeploymentSpec spec,
      Target target,
      Verification.Mode mode,
      boolean resumed,
      String step,
      String stage) {
    RolloutRecord r = in.rollout();
    return vertx
        .executeBlocking(
            () -> {
              String restarted = resumed ? ensureRunning(in, commit, spec, target) : null;
              long stepId = recorder.start(r, step);
              List<HealthCheck> checks =
                  checkBuilder.build(
                      in.name(),
                      spec,
                      r.revision(),
                      in.snap().row().lastHealthyCommit(),
                      commit,
                      in.paths(),
                      target,
                      r,
                      true,
                      in.snap().live());
              return new Prepared(stepId, checks, restarted);
            },
            false)
        .compose(
            p -> {
              Verification v =
                  new Verification(
                      vertx,
                      p.checks(),
                      spec.health(),
                      mode,
                      () -> runtime.unexpectedExits(target.runtimeKey()),
                      round -> record(in.name(), r, stage, round),
                      files);
              running.put(in.name(), v);
              Future<Verification.Outcome> outcome = v.run();
              if (mode == Verification.Mode.VERIFY) {
                // A rollback asked for before this verification could be found running.
                vertx
                    .executeBlocking(() -> store.rollouts().stopRequest(r.id()), false)
                    .onSuccess(stop -> stop.ifPresent(st -> v.stop(st.describe())));
              }
              return outcome
                  .onComplete(x -> running.remove(in.name(), v))
                  // The host's trouble (an engine that does not answer): the step ends saying so,
                  // and the stage is tried again.
                  .recover(
                      err ->
                          vertx
                              .executeBlocking(
                                  () -> {
                                    recorder.end(r, p.stepId(), step, false, err.getMessage());
                                    return null;
                                  },
                                  false)
                              .transform(x -> Future.<Verification.Outcome>failedFuture(err)))
                  .compose(
                      out ->
                          vertx.executeBlocking(
                              () -> finish(in, commit, spec, target, p, step, out), false));
            });
  }

  /** Stops watching files (the agent stops). */
  void stop() {
    try {
      files.close();
    } catch (IOException e) {
      // the watcher thread ends with the JVM
    }
  }

  /**
   * Something about {@code deployment}'s services changed (the runtimes report an exit or an engine
   * event as a reconcile request): a verification in progress looks at once whether a service of
   * its revision exited. Call on the agent's context.
   */
  void servicesChanged(String deployment) {
    Verification v = running.get(deployment);
    if (v != null) {
      v.servicesChanged();
    }
  }

  /**
   * A rollback was asked for while {@code deployment}'s rollout ran: its verification of the new
   * revision (or preview) ends now, failed with {@code message}. Whether one did. Call on the
   * agent's context.
   */
  boolean stop(String deployment, String message) {
    Verification v = running.get(deployment);
    return v != null && v.stop(message);
  }

  private record Prepared(long stepId, List<HealthCheck> checks, String restarted) {}

  private Verdict finish(
      StageInput in,
      String commit,
      DeploymentSpec spec,
      Target target,
      Prepared p,
      String step,
      Verification.Outcome out)
      throws Exception {
    String message = withServiceOutput(in, commit, spec, target, out);
    String output =
        (p.restarted() == null ? "" : p.restarted() + "; ")
            + message
            + " ("
            + out.rounds()
            + (out.rounds() == 1 ? " round" : " rounds")
            // The rule that ended it, unless the message has just said it.
            + (out.rule() == null || message.contains(out.rule())
                ? ""
                : "; ended by: " + out.rule())
            + ")";
    recorder.end(in.rollout(), p.stepId(), step, out.healthy(), output);
    Map<String, Double> baselines = CheckFactory.baselines(p.checks());
    return new Verdict(
        out, message, baselines.isEmpty() ? null : JSON.writeValueAsString(baselines));
  }

  /**
   * Starts the services of {@code commit} that should run and do not (the agent resumed after power
   * loss); says what it restarted, or null.
   */
  private String ensureRunning(StageInput in, String commit, DeploymentSpec spec, Target target)
      throws Exception {
    Path release = in.paths().release(commit);
    Map<String, AppRuntime.ServiceState> states = runtime.observe(target.runtimeKey());
    List<String> down = new ArrayList<>();
    for (String s : runtime.services(in.name(), spec.runtime(), release)) {
      AppRuntime.ServiceState st = states.get(s);
      if (st == null || !st.alive() || !commit.equals(st.commit())) {
        down.add(s);
      }
    }
    if (down.isEmpty()) {
      return null;
    }
    Path dir = steps.ensureRelease(in, commit, spec);
    Map<String, String> env =
        RolloutSteps.serviceEnv(in.name(), commit, in.rollout().revision(), in.paths());
    env.putAll(target.portEnv());
    runtime.restart(
        target.runtimeKey(),
        commit,
        dir,
        target.substitute(spec.runtime()),
        down,
        target.logsDir(),
        env);
    return "started " + down + " of " + StatusBuilder.short7(commit) + ", which did not run";
  }

  private Future<Void> record(
      String name, RolloutRecord r, String stage, Verification.Round round) {
    List<CheckResult> results = round.result().results();
    results.stream()
        .filter(c -> c.status() != io.vtrack.agent.check.CheckStatus.Unknown) // not awaited
        .forEach(c -> metrics.checkRan(name, c));
    onRound.accept(name, results);
    List<CheckRow> rows = new ArrayList<>();
    for (CheckResult c : results) {
      rows.add(
          new CheckRow(
              name,
              r.id(),
              stage + ":" + round.phase(),
              round.number(),
              c.name(),
              c.kind(),
              c.status().name(),
              c.value(),
              c.message(),
              c.durationMs(),
              c.lastRun(),
              c.failure() == null ? null : c.failure().name()));
    }
    // Ordered: rounds land in the store in the order they ran. Told once stored, as a step is:
    // a reader of the event stream that then reads the record (vtrack watch) finds every round in
    // one or the other.
    return vertx
        .<Void>executeBlocking(
            () -> {
              store.rollouts().insertCheckResults(rows);
              return null;
            },
            true)
        .onSuccess(
            v ->
                events.emit(
                    "round",
                    name,
                    "rolloutId",
                    r.id(),
                    "stage",
                    stage + ":" + round.phase(),
                    "round",
                    round.number(),
                    "status",
                    round.result().status().name(),
                    "checks",
                    results));
  }

  /** A service that exited says why in its last output: the failure message carries it. */
  private String withServiceOutput(
      StageInput in, String commit, DeploymentSpec spec, Target target, Verification.Outcome out) {
    if (out.healthy() || out.reason() != Reason.ServiceExited) {
      return out.message();
    }
    StringBuilder sb = new StringBuilder(out.message());
    List<String> services;
    try {
      services = runtime.services(in.name(), spec.runtime(), in.paths().release(commit));
    } catch (Exception e) {
      return out.message();
    }
    for (String s : services) {
      if (out.message().contains(s + " (")) {
        String tail = runtime.lastOutput(target.runtimeKey(), s, target.logsDir()).strip();
        if (!tail.isEmpty()) {
          sb.append("; last output of ").append(s).append(":\n").append(tail);
        }
      }
    }
    return sb.toString();
  }
}
