package io.vtrack.agent.reconcile;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vtrack.agent.backup.BackupManager;
import io.vtrack.agent.model.DeploymentSpec;
import io.vtrack.agent.runtime.Runtimes;
import io.vtrack.agent.store.RolloutRecord;
import io.vtrack.agent.store.StateStore;
import java.nio.file.Path;

/**
 * Rolling back is going back to a known-good state (DESIGN.md §2): stop the failed revision,
 * restore the data backup taken before the rollout (the data as the failure left it is kept in
 * {@code failed/}), start the last healthy revision with the spec it was verified with, and end on
 * its first passing round. Every step can run again: a resumed rollback repeats only what is left.
 */
final class RollbackStage {
  private final Vertx vertx;
  private final StateStore store;
  private final Runtimes runtime;
  private final BackupManager backups;
  private final RolloutSteps steps;
  private final StepRecorder recorder;
  private final RolloutTransitions transitions;
  private final VerifyStage verify;

  RollbackStage(
      Vertx vertx,
      StateStore store,
      Runtimes runtime,
      BackupManager backups,
      RolloutSteps steps,
      StepRecorder recorder,
      RolloutTransitions transitions,
      VerifyStage verify) {
    this.vertx = vertx;
    this.store = store;
    this.runtime = runtime;
    this.backups = backups;
    this.steps = steps;
    this.recorder = recorder;
    this.transitions = transitions;
    this.verify = verify;
  }

  /**
   * Rolls back; the verdict is null when there was nothing healthy to return to (the rollout then
   * already ended Failed).
   */
  Future<VerifyStage.Verdict> run(StageInput in) {
    RolloutRecord r = in.rollout();
    DeploymentSpec spec = in.spec();
    String target = in.snap().row().lastHealthyCommit();
    boolean haveTarget = target != null && !target.equals(r.toCommit());
    DeploymentSpec targetSpec = Specs.parse(in.snap().row().lastHealthySpecJson());
    DeploymentSpec startWith = targetSpec != null ? targetSpec : spec;
    return vertx
        .executeBlocking(
            () -> {
              recorder.run(
                  r,
                  "rollback-stop",
                  () -> {
                    runtime.stopAll(in.name(), spec.runtime());
                    return "stopped " + StatusBuilder.short7(r.toCommit());
                  });
              boolean restored = r.dataRestored();
              if (r.restoreData()
                  && spec.rollback().restoreData().enabled()
                  && !r.dataRestored()
                  && store.backups().get(r.id()).isPresent()) {
                recorder.run(
                    r,
                    "restore",
                    () -> {
                      BackupManager.Restored done =
                          backups.restore(in.paths(), r.id(), spec.backup());
                      store.rollouts().setDataRestored(r.id());
                      return "data restored: "
                          + done
                          + " from "
                          + in.paths().backup(r.id())
                          + "; data at failure kept in "
                          + done.failedDir();
                    });
                restored = true;
              }
              if (!haveTarget) {
                transitions.nothingToReturnTo(r, restored);
                return false;
              }
              store.deployments().setRunning(in.name(), target, Specs.json(startWith));
              recorder.run(
                  r,
                  "rollback-start",
                  () -> {
                    Path release = steps.ensureRelease(in, target, startWith);
                    runtime.start(
                        in.name(),
                        target,
                        release,
                        startWith.runtime(),
                        in.paths().logs(),
                        RolloutSteps.serviceEnv(in.name(), target, null, in.paths()));
                    return "started " + StatusBuilder.short7(target);
                  });
              return true;
            },
            false)
        .compose(
            started ->
                started
                    ? verify.verify(in, target, startWith, Verification.Mode.KNOWN_GOOD, false)
                    : Future.succeededFuture(null));
  }
}
