package io.vtrack.agent.reconcile;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vtrack.agent.backup.BackupManager;
import io.vtrack.agent.backup.PreviewCopy;
import io.vtrack.agent.model.Commits;
import io.vtrack.agent.model.DeploymentSpec;
import io.vtrack.agent.model.Reason;
import io.vtrack.agent.release.DeploymentPaths;
import io.vtrack.agent.runtime.Runtimes;
import io.vtrack.agent.store.Instance;
import io.vtrack.agent.store.RolloutRecord;
import io.vtrack.agent.store.StateStore;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code preview: snapshot} (DESIGN.md §2): before the live data or the live release is touched,
 * the new revision runs on a copy of {@code shared/} made from this rollout's backup, in its own
 * folder ({@code preview/<rollout-id>/}: release, shared, logs) and on its own ports, and every
 * check runs there with the rules of a verification. Whatever the verdict, the preview instance
 * stops and its folder goes; a preview interrupted (the agent killed) is cleared and started again.
 */
final class PreviewStage {
  static final String COLOUR = "preview";
  private static final Duration SQLITE_COPY_TIMEOUT = Duration.ofMinutes(5);

  private final Vertx vertx;
  private final StateStore store;
  private final Runtimes runtime;
  private final RolloutSteps steps;
  private final StepRecorder recorder;
  private final VerifyStage verify;

  PreviewStage(
      Vertx vertx,
      StateStore store,
      Runtimes runtime,
      RolloutSteps steps,
      StepRecorder recorder,
      VerifyStage verify) {
    this.vertx = vertx;
    this.store = store;
    this.runtime = runtime;
    this.steps = steps;
    this.recorder = recorder;
    this.verify = verify;
  }

  private <T> Future<T> blocking(Callable<T> work) {
    return vertx.executeBlocking(work, false);
  }

  /** Copies, starts, verifies and clears the preview; the verdict is the revision's. */
  Future<VerifyStage.Verdict> run(StageInput in) {
    RolloutRecord r = in.rollout();
    DeploymentPaths previewPaths = in.paths().preview(r.id());
    StageInput previewIn =
        new StageInput(in.name(), r, in.spec(), in.source(), previewPaths, in.snap());
    return blocking(() -> start(in, previewIn))
        .compose(target -> verify.preview(previewIn, r.toCommit(), in.spec(), target))
        .compose(
            verdict ->
                blocking(
                    () -> {
                      clear(in, "preview-stop", verdict.healthy() ? "passed" : "failed");
                      return verdict;
                    }),
            err ->
                // The host failed (not the revision): the preview goes and is made again on retry.
                blocking(
                        () -> {
                          clear(in, "preview-stop", "interrupted");
                          return null;
                        })
                    .transform(ignored -> Future.failedFuture(err)));
  }

  /** The copy of the data and the preview instance on it, started; returns where it runs. */
  private Target start(StageInput in, StageInput previewIn) throws Exception {
    RolloutRecord r = in.rollout();
    DeploymentSpec spec = in.spec();
    // A preview left by an agent that was killed goes first: it is made anew.
    clearLeftover(in);
    recorder.run(
        r,
        "preview-copy",
        () -> {
          try {
            return PreviewCopy.make(
                    in.paths(),
                    r.id(),
                    spec.backup(),
                    spec.runtime().sharedPaths(),
                    previewIn.paths(),
                    SQLITE_COPY_TIMEOUT)
                .toString();
          } catch (BackupManager.BackupFailedException e) {
            if (e.insufficientDisk()) {
              throw new ReconcileError.Failed(
                  new ReconcileError.Transient(Reason.BackupFailed, e.getMessage()));
            }
            throw e;
          }
        });
    Path release = steps.previewRelease(in, previewIn.paths(), r.toCommit(), spec);
    Map<String, Integer> ports =
        BlueGreenSteps.freePorts(runtime.services(in.name(), spec.runtime(), release), spec, store);
    refuseLiveMounts(in, previewIn, release, ports);
    Instance preview =
        new Instance(
            in.name(),
            COLOUR,
            r.toCommit(),
            Instance.Role.Preview,
            ports,
            Specs.json(spec),
            r.id(),
            null,
            null);
    store.instances().put(preview);
    Target target =
        new Target(preview.runtimeKey(), previewIn.paths().logs().resolve(COLOUR), ports);
    Files.createDirectories(target.logsDir());
    // Log checks count what the preview writes, not what the copied files already held.
    steps.markLogs(r, spec, previewIn.paths().release(r.toCommit()), target);
    recorder.run(
        r,
        "preview-start",
        () -> {
          steps.start(previewIn, r.toCommit(), spec, target);
          return "started "
              + Commits.short7(r.toCommit())
              + " on the copy of the data, on ports "
              + ports
              + " (nothing live is touched)";
        });
    return target;
  }

  /**
   * A compose file that mounts the live {@code shared/} by its path, not through {@code
   * ${VTRACK_SHARED}}, would run the preview on the live data: refused before anything starts.
   */
  private void refuseLiveMounts(
      StageInput in, StageInput previewIn, Path release, Map<String, Integer> ports)
      throws Exception {
    DeploymentSpec spec = in.spec();
    if (spec.runtime().type() != io.vtrack.agent.model.RuntimeSpec.RuntimeType.compose
        || runtime.composeIfStarted() == null) {
      return;
    }
    Map<String, String> env =
        RolloutSteps.serviceEnv(
            in.name(), in.rollout().toCommit(), in.rollout().revision(), previewIn.paths());
    env.putAll(new Target(in.name() + "@" + COLOUR, release, ports).portEnv());
    Path live = in.paths().shared().toAbsolutePath().normalize();
    for (String mount :
        runtime
            .composeIfStarted()
            .bindSources(Instance.runtimeKey(in.name(), COLOUR), release, spec.runtime(), env)) {
      String source = mount.substring(mount.indexOf('=') + 1);
      if (Path.of(source).startsWith(live)) {
        throw new ReconcileError.Failed(
            new ReconcileError.Stalled(
                Reason.InvalidSpec,
                "spec.strategy.blueGreen.preview: snapshot cannot serve this compose project:"
                    + " service "
                    + mount.substring(0, mount.indexOf('='))
                    + " mounts "
                    + source
                    + ", the live data, by its path; mount it through ${VTRACK_SHARED}"));
      }
    }
  }

  /**
   * Stops the preview instance and deletes its folder; the rollout's log marks go with it (the live
   * preview takes its own).
   */
  private void clear(StageInput in, String step, String why) throws Exception {
    recorder.run(
        in.rollout(),
        step,
        () -> {
          String stopped = stopInstance(in);
          PreviewCopy.cleanup(in.paths().preview(in.rollout().id()).root());
          try {
            Files.deleteIfExists(in.paths().previews());
          } catch (DirectoryNotEmptyException e) {
            // Another preview's folder is there: the next preview clears it.
          }
          store.rollouts().setMarks(in.rollout().id(), null);
          return "preview " + why + ": " + stopped + "its copy of the data deleted";
        });
  }

  private void clearLeftover(StageInput in) throws Exception {
    boolean leftover =
        store.instances().get(in.name(), COLOUR).isPresent() || Files.exists(in.paths().previews());
    if (leftover) {
      recorder.run(
          in.rollout(),
          "preview-clear",
          () -> {
            String stopped = stopInstance(in);
            PreviewCopy.cleanup(in.paths().previews());
            return "an interrupted preview cleared: " + stopped + "its copy deleted";
          });
    }
  }

  private String stopInstance(StageInput in) throws Exception {
    Instance i = store.instances().get(in.name(), COLOUR).orElse(null);
    if (i == null) {
      return "";
    }
    DeploymentSpec spec = Specs.parse(i.specJson());
    runtime.stopAll(i.runtimeKey(), spec == null ? in.spec().runtime() : spec.runtime());
    store.instances().delete(in.name(), COLOUR);
    return "the preview instance of " + Commits.short7(i.commit()) + " stopped, ";
  }

  /** Whether the rollout previews on a copy of the data before it goes live. */
  static boolean wanted(DeploymentSpec spec, RolloutRecord r) {
    return spec != null
        && spec.blueGreen() != null
        && spec.blueGreen().preview() == io.vtrack.agent.model.StrategySpec.Preview.snapshot
        && !r.manual();
  }
}
