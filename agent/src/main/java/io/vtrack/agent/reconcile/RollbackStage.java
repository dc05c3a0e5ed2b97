package io.vtrack.agent.reconcile;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vtrack.agent.backup.BackupManager;
import io.vtrack.agent.model.DeploymentSpec;
import io.vtrack.agent.model.RestoreData;
import io.vtrack.agent.runtime.AppRuntime;
import io.vtrack.agent.runtime.Runtimes;
import io.vtrack.agent.store.Instance;
import io.vtrack.agent.store.RolloutRecord;
import io.vtrack.agent.store.StateStore;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Rolling back is going back to a known-good state (DESIGN.md §2): stop the failed revision,
 * restore the data backup taken before the rollout (the data as the failure left it is kept in
 * {@code failed/}), start the last healthy revision with the spec it was verified with, and end on
 * its first passing round. Every step can run again: a resumed rollback repeats only what is left.
 */
final class RollbackStage {
  private static final org.slf4j.Logger LOG =
      org.slf4j.LoggerFactory.getLogger(RollbackStage.class);

  private final Vertx vertx;
  private final StateStore store;
  private final Runtimes runtime;
  private final BackupManager backups;
  private final RolloutSteps steps;
  private final StepRecorder recorder;
  private final RolloutTransitions transitions;
  private final VerifyStage verify;
  private final BlueGreenSteps bg;

  RollbackStage(
      Vertx vertx,
      StateStore store,
      Runtimes runtime,
      BackupManager backups,
      RolloutSteps steps,
      StepRecorder recorder,
      RolloutTransitions transitions,
      VerifyStage verify,
      BlueGreenSteps bg) {
    this.vertx = vertx;
    this.store = store;
    this.runtime = runtime;
    this.backups = backups;
    this.steps = steps;
    this.recorder = recorder;
    this.transitions = transitions;
    this.verify = verify;
    this.bg = bg;
  }

  /**
   * Rolls back; the verdict is null when there was nothing healthy to return to (the rollout then
   * already ended Failed).
   */
  Future<VerifyStage.Verdict> run(StageInput in) {
    if (in.spec().blueGreen() != null) {
      return blueGreen(in);
    }
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
                    String said =
                        runtime.stopForReplacement(
                            in.name(), spec.runtime(), haveTarget ? startWith.runtime() : null);
                    return StepRecorder.saying(
                        "stopped " + StatusBuilder.short7(r.toCommit()), said);
                  });
              boolean restored = r.dataRestored();
              Boolean asked = askedToRestore(r);
              if ((asked != null
                      ? asked
                      : r.restoreData() && spec.rollback().restoreData().enabled())
                  && !r.dataRestored()
                  && store.backups().get(r.id()).isPresent()) {
                restoreStep(in, spec, "", "");
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
                    ? verify.verify(
                        in,
                        target,
                        startWith,
                        Target.recreate(in.name(), in.paths()),
                        Verification.Mode.KNOWN_GOOD,
                        false)
                    : Future.succeededFuture(null));
  }

  /**
   * Blue-green: the candidate stops; the live instance never stopped, so the rollback is over at
   * once — unless the data must come back ({@code restoreData: true} and a {@code sqlite} check
   * failed, or {@code Always}): then the live instance restarts on the restored data, on its own
   * ports, and the rollback ends on its first passing round.
   */
  private Future<VerifyStage.Verdict> blueGreen(StageInput in) {
    RolloutRecord r = in.rollout();
    DeploymentSpec spec = in.spec();
    Instance live = in.snap().live();
    return vertx
        .executeBlocking(
            () -> {
              Instance candidate = bg.candidate(in.name(), r.id());
              RestoreData policy = spec.rollback().restoreData();
              Boolean asked = askedToRestore(r);
              boolean restore =
                  live != null
                      && !r.dataRestored()
                      && store.backups().get(r.id()).isPresent()
                      && (asked != null
                          ? asked
                          : r.restoreData()
                              && (policy == RestoreData.Always
                                  || (policy == RestoreData.WhenDamaged
                                      && bg.dataDamaged(r.id()))));
              DeploymentSpec liveSpec = live == null ? null : Specs.parse(live.specJson());
              DeploymentSpec with = liveSpec != null ? liveSpec : spec;
              // A live instance that does not run (this rollback stopped it for the data and the
              // agent died before it started again, or the host lost power) starts again and is
              // proved, instead of being taken as still serving.
              boolean restart = live != null && (restore || !running(live));
              // The data comes back only once nothing writes it: the live instance stops at the
              // same time as the candidate, not after it. Its users' requests wait in the proxy
              // meanwhile, and go on once it passes a round on the restored data.
              if (restart) {
                bg.proxyRoutes().hold(in.name(), with, live);
              }
              Future<Object> liveStopped =
                  restart
                      ? vertx.executeBlocking(
                          () -> {
                            runtime.stopAll(live.runtimeKey(), with.runtime());
                            return null;
                          },
                          false)
                      : Future.succeededFuture();
              recorder.run(
                  r,
                  "rollback-stop",
                  () -> {
                    String stopped = "no candidate instance runs";
                    if (candidate != null) {
                      String said = bg.stop(candidate, Duration.ZERO);
                      stopped =
                          StepRecorder.saying(
                              "stopped the "
                                  + candidate.colour()
                                  + " candidate "
                                  + StatusBuilder.short7(candidate.commit()),
                              said);
                    }
                    // A worker waiting for a worker: Future.await is for virtual threads only.
                    liveStopped.toCompletionStage().toCompletableFuture().get();
                    return stopped
                        + (restore
                            ? "; the live "
                                + live.colour()
                                + " instance stopped with it, for the data to come back (its"
                                + " requests wait in the switch proxy)"
                            : restart
                                ? "; the live instance was not running: it starts again (its"
                                    + " requests wait in the switch proxy)"
                                : "; the live instance never stopped");
                  });
              if (live == null) {
                transitions.nothingToReturnTo(r, false);
                return null;
              }
              if (!restart) {
                // An agent that stopped while the requests were held lets them through here.
                letThrough(in.name());
                return "live";
              }
              if (restore) {
                restoreStep(
                    in,
                    spec,
                    asked != null
                        ? " (asked for with the rollback)"
                        : " (a sqlite check failed, or restoreData: Always)",
                    "; the live instance restarts on it");
                io.vtrack.agent.store.CrashPoints.reach("restored.mid");
              }
              recorder.run(
                  r,
                  "rollback-start",
                  () -> {
                    steps.start(in, live.commit(), with, Target.of(live, in.paths()));
                    return "restarted the live "
                        + live.colour()
                        + " instance on its ports "
                        + live.ports();
                  });
              return "restarted";
            },
            false)
        .compose(
            how -> {
              if (how == null) {
                return Future.succeededFuture(null);
              }
              if (how.equals("live")) {
                return Future.succeededFuture(
                    new VerifyStage.Verdict(
                        new Verification.Outcome(
                            true,
                            io.vtrack.agent.model.Reason.Verified,
                            "the live instance never stopped serving",
                            0,
                            "blue-green: the last healthy revision kept serving"),
                        "the live instance never stopped serving",
                        null));
              }
              DeploymentSpec liveSpec = Specs.parse(live.specJson());
              return verify
                  .verify(
                      in,
                      live.commit(),
                      liveSpec != null ? liveSpec : spec,
                      Target.of(live, in.paths()),
                      Verification.Mode.KNOWN_GOOD,
                      false)
                  // Passed or not, the held requests go on to what runs now.
                  .eventually(() -> vertx.executeBlocking(() -> letThrough(in.name()), false));
            });
  }

  /**
   * Whether the person who asked for this rollback while the rollout ran said the data comes back
   * ({@code restoreData} of the request); null: as the rollout's policy says.
   */
  private Boolean askedToRestore(RolloutRecord r) throws Exception {
    return store
        .rollouts()
        .stopRequest(r.id())
        .map(io.vtrack.agent.store.RolloutRepository.StopRequest::restoreData)
        .orElse(null);
  }

  /** The restore step: this rollout's backup back in place, the data at failure kept aside. */
  private void restoreStep(StageInput in, DeploymentSpec spec, String why, String then)
      throws Exception {
    RolloutRecord r = in.rollout();
    recorder.run(
        r,
        "restore",
        () -> {
          BackupManager.Restored done = backups.restore(in.paths(), r.id(), spec.backup());
          store.rollouts().setDataRestored(r.id());
          return "data restored"
              + why
              + ": "
              + done
              + " from "
              + in.paths().backup(r.id())
              + "; data at failure kept in "
              + done.failedDir()
              + then;
        });
  }

  /**
   * Whether every service of {@code live} runs (its processes or containers are alive); a runtime
   * that cannot be asked leaves it taken as running, as it was when it went live.
   */
  private boolean running(Instance live) {
    try {
      var services = runtime.observe(live.runtimeKey());
      return !services.isEmpty()
          && services.values().stream().allMatch(AppRuntime.ServiceState::alive);
    } catch (Exception e) {
      LOG.warn(
          "{}: cannot tell whether the live instance runs: {}", live.deployment(), e.toString());
      return true;
    }
  }

  /**
   * Lets held requests through; a proxy that cannot be told answers them 503 after its hold limit,
   * which must not turn a rollback that worked into one that failed.
   */
  private Void letThrough(String name) {
    try {
      bg.proxyRoutes().letThrough(name);
    } catch (Exception e) {
      LOG.warn(
          "{}: could not let the held requests through the switch proxy: {}", name, e.toString());
    }
    return null;
  }
}
