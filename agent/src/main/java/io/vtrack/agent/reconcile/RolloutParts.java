package io.vtrack.agent.reconcile;

import io.vtrack.agent.check.CheckResult;
import java.util.List;
import java.util.function.BiConsumer;

/** The pieces a rollout runs on, made once from the reconciler's wiring. */
final class RolloutParts {
  private final RolloutTransitions transitions;
  private final CheckBuilder checkBuilder;
  private final BlueGreenSteps blueGreen;
  private final RolloutExecutor executor;
  private final VerifyStage verify;

  RolloutParts(
      Reconciler.Wiring w, EventStream events, BiConsumer<String, List<CheckResult>> onRound) {
    StepRecorder recorder = new StepRecorder(w.store(), events, w.metrics());
    transitions = new RolloutTransitions(w.store());
    checkBuilder = new CheckBuilder(w.store(), w.runtime(), w.checks());
    RolloutSteps steps =
        new RolloutSteps(
            w.store(), w.releases(), w.runtime(), w.backups(), w.commandPolicy(), recorder);
    blueGreen = new BlueGreenSteps(w.store(), w.runtime(), steps, recorder, w.proxy());
    verify =
        new VerifyStage(
            w.vertx(),
            w.store(),
            w.runtime(),
            checkBuilder,
            steps,
            recorder,
            w.metrics(),
            events,
            onRound);
    RollbackStage rollback =
        new RollbackStage(
            w.vertx(),
            w.store(),
            w.runtime(),
            w.backups(),
            steps,
            recorder,
            transitions,
            verify,
            blueGreen);
    executor =
        new RolloutExecutor(
            w.vertx(),
            w.store(),
            w.runtime(),
            steps,
            verify,
            rollback,
            blueGreen,
            new PreviewStage(w.vertx(), w.store(), w.runtime(), steps, recorder, verify),
            new LatencyNow(w.vertx(), w.store(), checkBuilder, recorder),
            transitions,
            w.metrics(),
            events,
            w.stateDir(),
            w.keepRollouts());
  }

  RolloutTransitions transitions() {
    return transitions;
  }

  CheckBuilder checkBuilder() {
    return checkBuilder;
  }

  BlueGreenSteps blueGreen() {
    return blueGreen;
  }

  VerifyStage verify() {
    return verify;
  }

  RolloutExecutor executor() {
    return executor;
  }
}
