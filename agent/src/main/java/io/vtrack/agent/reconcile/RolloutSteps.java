package io.vtrack.agent.reconcile;

import io.vtrack.agent.DurableFiles;
import io.vtrack.agent.backup.BackupManager;
import io.vtrack.agent.backup.SqliteBackup;
import io.vtrack.agent.check.CheckFactory;
import io.vtrack.agent.model.CheckSpec;
import io.vtrack.agent.model.CommandStep;
import io.vtrack.agent.model.Commits;
import io.vtrack.agent.model.DeploymentSpec;
import io.vtrack.agent.model.Reason;
import io.vtrack.agent.model.RuntimeSpec;
import io.vtrack.agent.release.ConfinedPath;
import io.vtrack.agent.release.DeploymentPaths;
import io.vtrack.agent.release.ReleaseBuilder;
import io.vtrack.agent.runtime.CommandPolicy;
import io.vtrack.agent.runtime.CommandRunner;
import io.vtrack.agent.runtime.ComposeConfigException;
import io.vtrack.agent.runtime.NetworkUnavailableException;
import io.vtrack.agent.runtime.RegistryUnavailableException;
import io.vtrack.agent.runtime.Runtimes;
import io.vtrack.agent.store.BackupRepository;
import io.vtrack.agent.store.Instance;
import io.vtrack.agent.store.RolloutRecord;
import io.vtrack.agent.store.StateStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.json.JsonMapper;

/**
 * The stages of a rollout before verification (DESIGN.md §5): prepare the release, validate it,
 * back up the data, switch. Each throws a {@link ReconcileError.Failed} for a failure of the commit
 * and lets anything else (the host's failures) through for {@link ErrorMapping}. Every stage can
 * run again from its start: a resumed stage repeats what it did, never more. Blocking: call from a
 * worker.
 */
final class RolloutSteps {
  private static final Logger LOG = LoggerFactory.getLogger(RolloutSteps.class);
  private static final JsonMapper JSON = JsonMapper.builder().build();

  private final StateStore store;
  private final ReleaseBuilder releases;
  private final Runtimes runtime;
  private final BackupManager backups;
  private final StepRecorder steps;

  /** The prepare, validate and build commands of each rollout, stopped when it is rolled back. */
  private final RolloutCommands commands;

  RolloutSteps(
      StateStore store,
      ReleaseBuilder releases,
      Runtimes runtime,
      BackupManager backups,
      CommandPolicy policy,
      StepRecorder steps) {
    this.store = store;
    this.releases = releases;
    this.runtime = runtime;
    this.backups = backups;
    this.steps = steps;
    this.commands = new RolloutCommands(store, policy);
  }

  static ReconcileError.Failed commitFailed(Reason reason, String message) {
    return new ReconcileError.Failed(new ReconcileError.CommitFailure(reason, message));
  }

  /**
   * The environment every service, command and compose call gets: VTRACK_DEPLOYMENT, VTRACK_COMMIT,
   * VTRACK_REVISION, VTRACK_SHARED (the deployment's shared/ folder, which compose files
   * bind-mount), VTRACK_RELEASE (the release folder of the commit) and VTRACK_STATE_DIR (which
   * agent started it, so that a process no store row accounts for is found).
   */
  static Map<String, String> serviceEnv(
      String name, String commit, String revision, DeploymentPaths paths) {
    Map<String, String> env = new HashMap<>();
    env.put("VTRACK_DEPLOYMENT", name);
    env.put("VTRACK_COMMIT", commit);
    env.put("VTRACK_SHARED", paths.shared().toAbsolutePath().toString());
    env.put("VTRACK_RELEASE", paths.release(commit).toAbsolutePath().toString());
    env.put("VTRACK_STATE_DIR", paths.stateDir().toAbsolutePath().toString());
    if (revision != null) {
      env.put("VTRACK_REVISION", revision);
    }
    return env;
  }

  /** A copy of {@code commit}'s prepared release for a preview on {@code preview}'s data. */
  Path previewRelease(StageInput in, DeploymentPaths preview, String commit, DeploymentSpec spec)
      throws Exception {
    return releases
        .copyForPreview(in.paths(), preview, in.source().effectiveRepoUrl(), commit, spec)
        .dir();
  }

  /** The release folder of {@code commit}, exported when missing. */
  Path ensureRelease(StageInput in, String commit, DeploymentSpec spec) throws Exception {
    return releases.build(in.paths(), in.source().effectiveRepoUrl(), commit, spec).dir();
  }

  void prepare(StageInput in) throws Exception {
    RolloutRecord r = in.rollout();
    DeploymentSpec spec = in.spec();
    refuseMovingARunningRelease(in);
    steps.run(
        r,
        "release",
        () -> {
          ReleaseBuilder.Release rel =
              releases.build(in.paths(), in.source().effectiveRepoUrl(), r.toCommit(), spec);
          return "exported "
              + StatusBuilder.short7(r.toCommit())
              + " to "
              + rel.dir()
              + (rel.warnings().isEmpty() ? "" : "; " + rel.warnings());
        });
    if (spec.runtime().type() == RuntimeSpec.RuntimeType.compose) {
      steps.run(
          r,
          "build",
          () -> {
            String built;
            CommandRunner.Stopper stopper = commands.stopper(r);
            try {
              built =
                  runtime.build(
                      in.name(),
                      r.toCommit(),
                      in.paths().release(r.toCommit()),
                      spec.runtime(),
                      serviceEnv(in.name(), r.toCommit(), r.revision(), in.paths()),
                      stopper);
            } catch (IOException e) {
              if (stopper.stopped()) {
                throw commands.stopped(r, "the build " + e.getMessage());
              }
              throw hostOrCommit(spec, Reason.PrepareFailed, e);
            }
            String sideBySide =
                spec.blueGreen() == null
                    ? null
                    : runtime.sideBySideProblem(
                        in.name(), spec.runtime(), in.paths().release(r.toCommit()));
            if (sideBySide != null) {
              throw new ComposeConfigException("spec.strategy.blueGreen: " + sideBySide);
            }
            return built;
          });
    }
    for (CommandStep c : spec.prepare()) {
      steps.run(
          r, "prepare:" + c.name(), () -> commands.run(in, c, Reason.PrepareFailed, "prepare"));
    }
    if (!spec.prepare().isEmpty()) {
      // What the commands wrote (dependencies, build output) is on the disk before it runs.
      DurableFiles.syncFileSystem(in.paths().release(r.toCommit()), ReleaseBuilder.SYNC_TIMEOUT);
    }
  }

  /**
   * Whether {@code commit}'s release runs or may have to: what runs now, a blue-green instance, the
   * last healthy commit (a rollback starts it).
   */
  static boolean releaseRuns(Snapshot snap, String commit) {
    Set<String> inUse = new HashSet<>();
    if (snap.row() != null) {
      inUse.add(snap.row().currentCommit());
      inUse.add(snap.row().lastHealthyCommit());
    }
    snap.instances().stream()
        .filter(i -> i.role() != Instance.Role.Preview)
        .forEach(i -> inUse.add(i.commit()));
    return inUse.contains(commit);
  }

  /**
   * One commit has one release folder: when the document names another {@code spec.source.path} for
   * a commit whose release runs (live, warm, or the last healthy one a rollback starts), that
   * release cannot be exported again under it, and it is not the document's either.
   */
  private void refuseMovingARunningRelease(StageInput in) throws Exception {
    String commit = in.rollout().toCommit();
    if (!ReleaseBuilder.exportedFromElsewhere(store.releases(), in.paths(), commit, in.spec())) {
      return;
    }
    if (!releaseRuns(in.snap(), commit) && !commit.equals(in.rollout().fromCommit())) {
      return;
    }
    String from = store.releases().exportedFrom(in.name(), commit);
    throw new ReconcileError.Failed(
        new ReconcileError.Stalled(
            Reason.InvalidSpec,
            "spec.source.path: '"
                + in.spec().source().path()
                + "' is not the folder commit "
                + Commits.short7(commit)
                + " runs from ('"
                + (from.isEmpty() ? "." : from)
                + "'), and a commit has one release: put the path back, or move the app"
                + " with a new commit"));
  }

  void validate(StageInput in) throws Exception {
    for (CommandStep c : in.spec().validate()) {
      steps.run(
          in.rollout(),
          "validate:" + c.name(),
          () -> commands.run(in, c, Reason.ValidationFailed, "validate"));
    }
  }

  /**
   * Rollout {@code rolloutId} is rolled back: its prepare, validate or build command that runs is
   * killed, and none starts after. Whether one ran.
   */
  boolean stopCommands(long rolloutId) {
    return commands.stop(rolloutId);
  }

  /** Rollout {@code rolloutId} ended: nothing of it is left to stop. */
  void ended(long rolloutId) {
    commands.ended(rolloutId);
  }

  void backup(StageInput in) throws Exception {
    RolloutRecord r = in.rollout();
    DeploymentSpec spec = in.spec();
    steps.run(
        r,
        "backup",
        () -> {
          if (spec.backup().isEmpty()) {
            return "nothing to back up (spec.backup is empty)";
          }
          BackupManager.BackupResult b = backups.take(in.name(), r.id(), in.paths(), spec.backup());
          Map<String, Double> baselines = noDecreaseBaselines(spec, b.dir());
          store
              .backups()
              .insert(
                  new BackupRepository.BackupRow(
                      r.id(),
                      in.name(),
                      b.dir().toString(),
                      b.sizeBytes(),
                      b.integrity(),
                      JSON.writeValueAsString(Map.of("noDecrease", baselines, "notes", b.notes())),
                      null));
          return "backup "
              + b.dir()
              + " ("
              + b.sizeBytes()
              + " bytes, integrity "
              + b.integrity()
              + ")"
              + (b.notes().isEmpty() ? "" : "; " + String.join("; ", b.notes()));
        });
  }

  /** The value of each {@code noDecrease} query on the backup: what verification compares with. */
  private static Map<String, Double> noDecreaseBaselines(DeploymentSpec spec, Path backupDir) {
    Map<String, Double> out = new HashMap<>();
    for (CheckSpec c : spec.health().checks()) {
      if (c.sqlite() == null || !c.sqlite().noDecrease() || c.sqlite().query() == null) {
        continue;
      }
      Path copy = backupDir.resolve(c.sqlite().database()).normalize();
      if (!Files.exists(copy)) {
        continue;
      }
      try {
        String v =
            SqliteBackup.queryValue(copy, c.sqlite().query(), c.effectiveTimeout().duration());
        if (v != null) {
          out.put(c.name(), Double.parseDouble(v.trim()));
        }
      } catch (Exception e) {
        LOG.warn("noDecrease baseline of check {} failed: {}", c.name(), e.getMessage());
      }
    }
    return out;
  }

  /**
   * Where each log check of the rollout starts counting: what {@code target} writes from now on,
   * never what its files already held.
   */
  void markLogs(RolloutRecord r, DeploymentSpec spec, Path release, Target target)
      throws Exception {
    markLogs(r, spec, release, target, Map.of());
  }

  /** As above, with the latency of what ran, measured before it stopped ({@link LatencyNow}). */
  private void markLogs(
      RolloutRecord r,
      DeploymentSpec spec,
      Path release,
      Target target,
      Map<String, Double> latencyBefore)
      throws Exception {
    store
        .rollouts()
        .setMarks(
            r.id(),
            JSON.writeValueAsString(
                Map.of(
                    "logOffsets",
                    CheckFactory.logMarks(
                        spec.health(),
                        release,
                        target.logsDir(),
                        svc -> runtime.serviceLog(target.runtimeKey(), svc)),
                    LatencyNow.MARK,
                    latencyBefore)));
  }

  /**
   * Recreate: stops what runs (with the spec it runs with), then starts the new revision. What runs
   * is recorded before the start, so an agent killed now knows which revision it was starting.
   *
   * @param latencyBefore the latency of what ran, measured just before ({@link LatencyNow})
   */
  void deploy(StageInput in, Map<String, Double> latencyBefore) throws Exception {
    RolloutRecord r = in.rollout();
    DeploymentSpec spec = in.spec();
    if (store.rollouts().marks(r.id()).isEmpty()) {
      // Kept from the first attempt when resumed: lines written since then still count.
      markLogs(
          r,
          spec,
          in.paths().release(r.toCommit()),
          Target.recreate(in.name(), in.paths()),
          latencyBefore);
    }
    DeploymentSpec running = in.snap().runningSpec() != null ? in.snap().runningSpec() : in.spec();
    steps.run(
        r,
        "stop",
        () -> {
          String said;
          try {
            said = runtime.stopForReplacement(in.name(), running.runtime(), in.spec().runtime());
          } catch (Exception e) {
            // Stopping what runs never fails because of the new commit.
            throw hostFailure(running, e);
          }
          return StepRecorder.saying(
              "stopped " + StatusBuilder.short7(in.snap().row().currentCommit()), said);
        });
    if (r.manual() && r.restoreData() && !r.dataRestored()) {
      steps.run(r, "restore", () -> restoreFor(in, r.fromCommit()));
    }
    store.deployments().setRunning(in.name(), r.toCommit(), Specs.json(spec));
    steps.run(
        r,
        "start",
        () -> {
          start(in, r.toCommit(), spec, Target.recreate(in.name(), in.paths()));
          return "started "
              + runtime.services(in.name(), spec.runtime(), in.paths().release(r.toCommit()));
        });
  }

  /** Starts every service of {@code commit} at {@code target} (its key, logs and ports). */
  void start(StageInput in, String commit, DeploymentSpec spec, Target target) throws Exception {
    Path release = ensureRelease(in, commit, spec);
    Map<String, String> env = serviceEnv(in.name(), commit, in.rollout().revision(), in.paths());
    env.putAll(target.portEnv());
    try {
      runtime.start(
          target.runtimeKey(),
          commit,
          release,
          target.substitute(spec.runtime()),
          target.logsDir(),
          env);
    } catch (IOException e) {
      throw hostOrCommit(spec, Reason.StartFailed, e);
    }
  }

  /**
   * An I/O failure of the runtime is the commit's (a command that does not exist, an image that
   * does not build) unless the runtime itself does not answer (the Docker Engine is away) or an
   * image registry cannot be reached.
   */
  private Exception hostOrCommit(DeploymentSpec spec, Reason reason, Exception e) {
    if (e instanceof CommandPolicy.NotAllowedException
        || e instanceof ConfinedPath.UnsafePathException
        || e instanceof RegistryUnavailableException
        || e instanceof NetworkUnavailableException) {
      return e;
    }
    if (!runtime.reachable(spec.runtime())) {
      return hostFailure(spec, e);
    }
    return commitFailed(reason, e.getMessage());
  }

  private ReconcileError.Failed hostFailure(DeploymentSpec spec, Exception e) {
    boolean engine = !runtime.reachable(spec.runtime());
    return new ReconcileError.Failed(
        new ReconcileError.Transient(
            engine ? Reason.RuntimeUnavailable : Reason.AgentError,
            (engine ? "the Docker Engine does not answer: " : "")
                + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage())));
  }

  /** Manual rollback with data: restore the backup taken before {@code commit} was deployed. */
  String restoreFor(StageInput in, String commit) throws Exception {
    RolloutRecord brought =
        commit == null ? null : store.rollouts().thatDeployed(in.name(), commit).orElse(null);
    if (brought == null || store.backups().get(brought.id()).isEmpty()) {
      return "no backup from before "
          + StatusBuilder.short7(commit)
          + " was deployed: data left as is";
    }
    BackupManager.Restored done = backups.restore(in.paths(), brought.id(), in.spec().backup());
    store.rollouts().setDataRestored(in.rollout().id());
    return "data restored from backup "
        + brought.id()
        + ": "
        + done
        + "; data at rollback kept in "
        + done.failedDir();
  }
}
