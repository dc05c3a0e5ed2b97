package io.vtrack.agent.reconcile;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vtrack.agent.Addresses;
import io.vtrack.agent.backup.BackupManager;
import io.vtrack.agent.backup.SqliteBackup;
import io.vtrack.agent.check.CheckContext;
import io.vtrack.agent.check.CheckFactory;
import io.vtrack.agent.check.CheckResult;
import io.vtrack.agent.check.HealthCheck;
import io.vtrack.agent.model.CheckSpec;
import io.vtrack.agent.model.CommandStep;
import io.vtrack.agent.model.DeploymentSpec;
import io.vtrack.agent.model.RuntimeSpec;
import io.vtrack.agent.release.ConfinedPath;
import io.vtrack.agent.release.DeploymentPaths;
import io.vtrack.agent.release.ReleaseBuilder;
import io.vtrack.agent.release.SharedPathMissingException;
import io.vtrack.agent.runtime.CommandRunner;
import io.vtrack.agent.runtime.ComposeConfigException;
import io.vtrack.agent.source.DesiredDocument;
import io.vtrack.agent.store.RolloutRecord;
import io.vtrack.agent.store.StateStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.json.JsonMapper;

/**
 * Runs the persisted steps of a rollout (DESIGN.md §5): prepare, validate, back up, switch, verify,
 * and roll back on failure. Each stage writes its transition to the state store before it acts, so
 * an agent killed at any point resumes where it was. Blocking work goes through {@code
 * executeBlocking}; verification runs on timers.
 */
final class RolloutExecutor {
  private static final Logger LOG = LoggerFactory.getLogger(RolloutExecutor.class);
  private static final JsonMapper JSON = JsonMapper.builder().build();

  /** What the executor needs from the reconciler that owns it. */
  interface Host {
    LiveState live(String name);

    Future<Void> publish(String name);
  }

  private final Reconciler.Deps d;
  private final Vertx vertx;
  private final Host host;

  RolloutExecutor(Reconciler.Deps deps, Host host) {
    this.d = deps;
    this.vertx = deps.vertx();
    this.host = host;
  }

  private <T> Future<T> blocking(Callable<T> work) {
    return vertx.executeBlocking(work, false);
  }

  private LiveState live(String name) {
    return host.live(name);
  }

  private Future<Void> publish(String name) {
    return host.publish(name);
  }

  Path ensureRelease(String name, DesiredDocument src, String commit, DeploymentSpec spec)
      throws Exception {
    return d.releases().build(paths(name), src.effectiveRepoUrl(), commit, spec).dir();
  }

  DeploymentPaths paths(String name) {
    return DeploymentPaths.of(d.stateDir(), name);
  }

  /**
   * The environment every service, command and compose call gets: VTRACK_DEPLOYMENT, VTRACK_COMMIT,
   * VTRACK_REVISION, VTRACK_SHARED (the deployment's shared/ folder, which compose files
   * bind-mount) and VTRACK_RELEASE (the release folder of the commit).
   */
  static Map<String, String> serviceEnv(
      String name, String commit, String revision, DeploymentPaths paths) {
    Map<String, String> env = new HashMap<>();
    env.put("VTRACK_DEPLOYMENT", name);
    env.put("VTRACK_COMMIT", commit);
    env.put("VTRACK_SHARED", paths.shared().toAbsolutePath().toString());
    env.put("VTRACK_RELEASE", paths.release(commit).toAbsolutePath().toString());
    if (revision != null) {
      env.put("VTRACK_REVISION", revision);
    }
    return env;
  }

  Future<Void> runStage(String name, Snapshot snap, RolloutRecord r, LiveState l) {
    Stage stage = Stage.valueOf(r.stage());
    DeploymentSpec spec = snap.doc().spec();
    DeploymentPaths paths = paths(name);
    Future<Void> work =
        switch (stage) {
          case Preparing -> blocking(() -> prepare(name, snap, r, paths));
          case Validating -> blocking(() -> validate(name, snap, r, paths));
          case BackingUp -> blocking(() -> backup(name, snap, r, paths));
          case Deploying -> blocking(() -> deploy(name, snap, r, paths));
          case Verifying -> verify(name, snap, r, paths, r.toCommit(), Stage.Verifying);
          case RollingBack -> rollBack(name, snap, r, paths, l);
          case Done -> Future.succeededFuture();
        };
    return work.recover(
        err -> {
          LOG.error("{}: rollout {} stage {} failed unexpectedly", name, r.id(), stage, err);
          return blocking(
              () -> fail(name, snap, r, stage, Reason.Failed, String.valueOf(err.getMessage())));
        });
  }

  /** Records a step: start, the work, end with its result and output. */
  private interface StepWork {
    String run() throws Exception;
  }

  private void step(RolloutRecord r, String step, StepWork work) throws Exception {
    long id = d.store().startStep(r.id(), step);
    emit(event("step", r.deployment(), "rolloutId", r.id(), "step", step, "state", "Started"));
    String result = "Failed";
    String out = null;
    try {
      out = work.run();
      result = "Succeeded";
      d.store().finishStep(id, result, out);
    } catch (StepFailed e) {
      out = e.getMessage();
      d.store().finishStep(id, result, out);
      throw e;
    } catch (Exception e) {
      out = String.valueOf(e.getMessage());
      d.store().finishStep(id, result, out);
      throw e;
    } finally {
      emit(
          event(
              "step",
              r.deployment(),
              "rolloutId",
              r.id(),
              "step",
              step,
              "state",
              result,
              "output",
              out == null ? null : tail(out, 2000)));
    }
  }

  static String tail(String s, int max) {
    return s.length() <= max ? s : "…" + s.substring(s.length() - max);
  }

  /** An event for the event stream: a type, the deployment and key/value pairs. */
  static Map<String, Object> event(String type, String deployment, Object... kv) {
    Map<String, Object> e = new LinkedHashMap<>();
    e.put("type", type);
    e.put("deployment", deployment);
    for (int i = 0; i + 1 < kv.length; i += 2) {
      if (kv[i + 1] != null) {
        e.put(String.valueOf(kv[i]), kv[i + 1]);
      }
    }
    e.put("at", Instant.now().toString());
    return e;
  }

  /** Publishes on the event bus; safe from worker threads. */
  void emit(Map<String, Object> event) {
    vertx.eventBus().publish(Addresses.EVENTS, JSON.writeValueAsString(event));
  }

  /** A step that failed for a reason the rollout reports. */
  private static final class StepFailed extends Exception {
    final Reason reason;

    StepFailed(Reason reason, String message) {
      super(message);
      this.reason = reason;
    }
  }

  private Void advance(String name, RolloutRecord r, Stage from) throws Exception {
    RolloutMachine.Transition t = RolloutMachine.succeeded(r, from);
    if (t.next() == Stage.Done) {
      finish(name, r, t.result(), null, null);
    } else {
      d.store().setStage(r.id(), t.next().name());
    }
    return null;
  }

  private Void fail(
      String name, Snapshot snap, RolloutRecord r, Stage stage, Reason reason, String message)
      throws Exception {
    boolean automatic = snap.doc().spec().rollback().automatic();
    String lastHealthy = snap.row().lastHealthyCommit();
    boolean haveHealthy = lastHealthy != null && !lastHealthy.equals(r.toCommit());
    RolloutMachine.Transition t = RolloutMachine.failed(r, stage, automatic, haveHealthy);
    LOG.warn("{}: rollout {} failed in {}: {} {}", name, r.id(), stage, reason, message);
    if (t.quarantine()) {
      d.store().quarantine(name, r.toCommit(), r.generation(), reason + ": " + message);
      d.store()
          .addEvent(
              name,
              r.id(),
              "Quarantined",
              reason.name(),
              StatusBuilder.short7(r.toCommit()) + ": " + message);
    }
    if (stage != Stage.RollingBack) {
      d.store().setRolloutOutcome(r.id(), reason.name(), message);
    }
    if (t.next() == Stage.Done) {
      finish(
          name,
          r,
          t.result(),
          stage == Stage.RollingBack ? Reason.RollbackFailed : reason,
          stage == Stage.RollingBack ? message : null);
    } else {
      d.store().setStage(r.id(), t.next().name());
    }
    return null;
  }

  private void finish(
      String name, RolloutRecord r, RolloutResult result, Reason reason, String message)
      throws Exception {
    d.store()
        .finishRollout(
            r.id(),
            Stage.Done.name(),
            result.name(),
            reason == null
                ? (result == RolloutResult.Succeeded ? Reason.Succeeded.name() : null)
                : reason.name(),
            message);
    d.store()
        .addEvent(
            name,
            r.id(),
            "Rollout" + result.name(),
            reason == null ? null : reason.name(),
            "rollout " + r.id() + " to " + StatusBuilder.short7(r.toCommit()) + ": " + result);
    Duration took = Duration.between(Instant.parse(r.startedAt()), Instant.now());
    d.metrics().rolloutFinished(name, result.name(), took);
    emit(
        event(
            "rollout",
            name,
            "rolloutId",
            r.id(),
            "result",
            result.name(),
            "reason",
            reason == null ? null : reason.name(),
            "durationMs",
            took.toMillis()));
    LOG.info("{}: rollout {} {} in {} ms", name, r.id(), result, took.toMillis());
  }

  private Void prepare(String name, Snapshot snap, RolloutRecord r, DeploymentPaths paths)
      throws Exception {
    DeploymentSpec spec = snap.doc().spec();
    try {
      step(
          r,
          "release",
          () -> {
            try {
              ReleaseBuilder.Release rel =
                  d.releases().build(paths, snap.source().effectiveRepoUrl(), r.toCommit(), spec);
              return "exported "
                  + StatusBuilder.short7(r.toCommit())
                  + " to "
                  + rel.dir()
                  + (rel.warnings().isEmpty() ? "" : "; " + rel.warnings());
            } catch (SharedPathMissingException e) {
              throw new StepFailed(Reason.SharedPathMissing, e.getMessage());
            }
          });
      if (spec.runtime().type() == RuntimeSpec.RuntimeType.compose) {
        buildImages(name, r, paths, spec);
      }
      for (CommandStep c : spec.prepare()) {
        step(
            r,
            "prepare:" + c.name(),
            () -> command(name, r, paths, c, Reason.PrepareFailed, "prepare"));
      }
    } catch (StepFailed e) {
      if (e.reason == Reason.SharedPathMissing || e.reason == Reason.InvalidSpec) {
        LiveState l = live(name);
        l.buildProblem = new Desired.Problem(e.reason, e.getMessage());
        l.buildProblemGeneration = r.generation();
        d.store().setRolloutOutcome(r.id(), e.reason.name(), e.getMessage());
        finish(name, r, RolloutResult.Failed, e.reason, e.getMessage());
        return null;
      }
      return fail(name, snap, r, Stage.Preparing, e.reason, e.getMessage());
    } catch (java.io.IOException e) {
      return fail(name, snap, r, Stage.Preparing, Reason.ReleaseFailed, e.getMessage());
    }
    return advance(name, r, Stage.Preparing);
  }

  /** Compose: the images of the release, built and tagged per commit before anything is touched. */
  private void buildImages(String name, RolloutRecord r, DeploymentPaths paths, DeploymentSpec spec)
      throws Exception {
    step(
        r,
        "build",
        () -> {
          Path release = paths.release(r.toCommit());
          try {
            return d.runtime()
                .build(
                    name,
                    r.toCommit(),
                    release,
                    spec.runtime(),
                    serviceEnv(name, r.toCommit(), r.revision(), paths));
          } catch (ComposeConfigException e) {
            throw new StepFailed(Reason.InvalidSpec, e.getMessage());
          } catch (java.io.IOException e) {
            throw new StepFailed(Reason.PrepareFailed, e.getMessage());
          }
        });
  }

  private String command(
      String name,
      RolloutRecord r,
      DeploymentPaths paths,
      CommandStep c,
      Reason reason,
      String what)
      throws StepFailed {
    Path cwd;
    try {
      cwd = ConfinedPath.realInside(paths.release(r.toCommit()), c.cwd(), paths.shared());
    } catch (java.io.IOException e) {
      throw new StepFailed(reason, what + " '" + c.name() + "': " + e.getMessage());
    }
    Map<String, String> env = serviceEnv(name, r.toCommit(), r.revision(), paths);
    env.putAll(c.env());
    CommandRunner.Result res = CommandRunner.run(c.command(), cwd, env, c.timeout().duration());
    if (!res.ok()) {
      throw new StepFailed(
          reason,
          what + " '" + c.name() + "' failed (" + res.describe() + "): " + res.output().strip());
    }
    return res.output();
  }

  private Void validate(String name, Snapshot snap, RolloutRecord r, DeploymentPaths paths)
      throws Exception {
    try {
      for (CommandStep c : snap.doc().spec().validate()) {
        step(
            r,
            "validate:" + c.name(),
            () -> command(name, r, paths, c, Reason.ValidationFailed, "validate"));
      }
    } catch (StepFailed e) {
      return fail(name, snap, r, Stage.Validating, e.reason, e.getMessage());
    }
    return advance(name, r, Stage.Validating);
  }

  private Void backup(String name, Snapshot snap, RolloutRecord r, DeploymentPaths paths)
      throws Exception {
    DeploymentSpec spec = snap.doc().spec();
    try {
      step(
          r,
          "backup",
          () -> {
            if (spec.backup().isEmpty()) {
              return "nothing to back up (spec.backup is empty)";
            }
            try {
              BackupManager.BackupResult b = d.backups().take(name, r.id(), paths, spec.backup());
              Map<String, Double> baselines = noDecreaseBaselines(spec, b.dir());
              d.store()
                  .insertBackup(
                      new StateStore.BackupRow(
                          r.id(),
                          name,
                          b.dir().toString(),
                          b.sizeBytes(),
                          b.integrity(),
                          JSON.writeValueAsString(
                              Map.of("noDecrease", baselines, "notes", b.notes())),
                          null));
              return "backup "
                  + b.dir()
                  + " ("
                  + b.sizeBytes()
                  + " bytes, integrity "
                  + b.integrity()
                  + ")"
                  + (b.notes().isEmpty() ? "" : "; " + String.join("; ", b.notes()));
            } catch (BackupManager.BackupFailedException e) {
              throw new StepFailed(Reason.BackupFailed, e.getMessage());
            }
          });
    } catch (StepFailed e) {
      return fail(name, snap, r, Stage.BackingUp, e.reason, e.getMessage());
    }
    return advance(name, r, Stage.BackingUp);
  }

  /** The {@code noDecrease} queries run on the backup just taken. */
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

  private Void deploy(String name, Snapshot snap, RolloutRecord r, DeploymentPaths paths)
      throws Exception {
    DeploymentSpec spec = snap.doc().spec();
    if (d.store().marks(r.id()).isEmpty()) {
      // Kept from the first attempt when resumed: lines written since then still count.
      d.store()
          .setMarks(
              r.id(),
              JSON.writeValueAsString(
                  Map.of(
                      "logOffsets",
                      CheckFactory.logMarks(
                          spec.health(),
                          paths.release(r.toCommit()),
                          paths.logs(),
                          svc -> d.runtime().serviceLog(name, svc)))));
    }
    try {
      step(
          r,
          "stop",
          () -> {
            d.runtime().stopAll(name, spec.runtime());
            return "stopped " + StatusBuilder.short7(snap.row().currentCommit());
          });
      if (RolloutRecord.KIND_MANUAL_ROLLBACK.equals(r.kind())
          && r.restoreData()
          && !r.dataRestored()) {
        step(r, "restore", () -> restoreFor(name, r, paths, spec, r.fromCommit()));
      }
      // Persisted before the start: an agent killed now knows which revision it was starting.
      d.store().setCurrentCommit(name, r.toCommit());
      step(
          r,
          "start",
          () -> {
            Path release = ensureRelease(name, snap.source(), r.toCommit(), spec);
            try {
              d.runtime()
                  .start(
                      name,
                      r.toCommit(),
                      release,
                      spec.runtime(),
                      paths.logs(),
                      serviceEnv(name, r.toCommit(), r.revision(), paths));
            } catch (java.io.IOException e) {
              throw new StepFailed(Reason.StartFailed, "cannot start services: " + e.getMessage());
            }
            return "started " + d.runtime().services(name, spec.runtime(), release);
          });
    } catch (StepFailed e) {
      return fail(name, snap, r, Stage.Deploying, e.reason, e.getMessage());
    }
    return advance(name, r, Stage.Deploying);
  }

  /** Manual rollback with data: restore the backup taken before {@code commit} was deployed. */
  private String restoreFor(
      String name, RolloutRecord r, DeploymentPaths paths, DeploymentSpec spec, String commit)
      throws Exception {
    RolloutRecord brought =
        commit == null ? null : d.store().rolloutThatDeployed(name, commit).orElse(null);
    if (brought == null || d.store().backup(brought.id()).isEmpty()) {
      return "no backup from before "
          + StatusBuilder.short7(commit)
          + " was deployed: data left as is";
    }
    List<String> done = d.backups().restore(paths, brought.id(), spec.backup());
    d.store().setDataRestored(r.id());
    return "restored backup "
        + brought.id()
        + ": "
        + done
        + "; data at rollback kept in "
        + paths.backup(brought.id()).resolve("failed");
  }

  private Future<Void> verify(
      String name,
      Snapshot snap,
      RolloutRecord r,
      DeploymentPaths paths,
      String commit,
      Stage stage) {
    DeploymentSpec spec = snap.doc().spec();
    return blocking(
            () -> {
              long stepId =
                  d.store()
                      .startStep(r.id(), stage == Stage.Verifying ? "verify" : "verify-rollback");
              emit(
                  event(
                      "step",
                      name,
                      "rolloutId",
                      r.id(),
                      "step",
                      stage == Stage.Verifying ? "verify" : "verify-rollback",
                      "state",
                      "Started"));
              List<HealthCheck> checks = buildChecks(name, snap, commit, paths, r, true);
              return Map.entry(stepId, checks);
            })
        .compose(
            e -> {
              long stepId = e.getKey();
              List<HealthCheck> checks = e.getValue();
              LiveState l = live(name);
              Verification v =
                  new Verification(
                      vertx,
                      checks,
                      spec.health(),
                      stage == Stage.Verifying
                          ? Verification.Mode.VERIFY
                          : Verification.Mode.KNOWN_GOOD,
                      () -> d.runtime().unexpectedExits(name),
                      round -> {
                        l.checks = round.result().results();
                        round.result().results().forEach(c -> d.metrics().checkRan(name, c));
                        emit(
                            event(
                                "round",
                                name,
                                "rolloutId",
                                r.id(),
                                "stage",
                                stage.name() + ":" + round.phase(),
                                "round",
                                round.number(),
                                "status",
                                round.result().status().name(),
                                "checks",
                                round.result().results()));
                        List<StateStore.CheckRow> rows = new ArrayList<>();
                        for (CheckResult c : round.result().results()) {
                          rows.add(
                              new StateStore.CheckRow(
                                  name,
                                  r.id(),
                                  stage.name() + ":" + round.phase(),
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
                        return blocking(
                                () -> {
                                  d.store().insertCheckResults(rows);
                                  return null;
                                })
                            .compose(x -> publish(name));
                      });
              return v.run()
                  .compose(
                      out ->
                          blocking(
                              () -> {
                                String message = withServiceOutput(name, spec, paths, commit, out);
                                String output =
                                    message
                                        + " ("
                                        + out.rounds()
                                        + " rounds; ended by: "
                                        + out.rule()
                                        + ")";
                                String result = out.healthy() ? "Succeeded" : "Failed";
                                d.store().finishStep(stepId, result, output);
                                emit(
                                    event(
                                        "step",
                                        name,
                                        "rolloutId",
                                        r.id(),
                                        "step",
                                        stage == Stage.Verifying ? "verify" : "verify-rollback",
                                        "state",
                                        result,
                                        "output",
                                        tail(output, 2000)));
                                if (stage == Stage.Verifying) {
                                  if (out.healthy()) {
                                    verified(name, snap, r, commit, checks, paths);
                                    return advance(name, r, Stage.Verifying);
                                  }
                                  return fail(
                                      name, snap, r, Stage.Verifying, out.reason(), message);
                                }
                                if (out.healthy()) {
                                  d.store().setLastHealthyCommit(name, commit);
                                  return advance(name, r, Stage.RollingBack);
                                }
                                return fail(
                                    name, snap, r, Stage.RollingBack, out.reason(), message);
                              }));
            });
  }

  /** A service that exited says why in its last output: the failure message carries it. */
  private String withServiceOutput(
      String name,
      DeploymentSpec spec,
      DeploymentPaths paths,
      String commit,
      Verification.Outcome out) {
    if (out.healthy() || out.reason() != Reason.ServiceExited) {
      return out.message();
    }
    StringBuilder sb = new StringBuilder(out.message());
    List<String> services;
    try {
      services = d.runtime().services(name, spec.runtime(), paths.release(commit));
    } catch (Exception e) {
      return out.message();
    }
    for (String s : services) {
      if (out.message().contains(s + " (")) {
        String tail = d.runtime().lastOutput(name, s, paths.logs()).strip();
        if (!tail.isEmpty()) {
          sb.append("; last output of ").append(s).append(":\n").append(tail);
        }
      }
    }
    return sb.toString();
  }

  private void verified(
      String name,
      Snapshot snap,
      RolloutRecord r,
      String commit,
      List<HealthCheck> checks,
      DeploymentPaths paths)
      throws Exception {
    Map<String, Double> baselines = CheckFactory.baselines(checks);
    d.store()
        .markVerified(
            name, commit, baselines.isEmpty() ? null : JSON.writeValueAsString(baselines));
    d.store().setLastHealthyCommit(name, commit);
    Set<String> keep = new HashSet<>();
    keep.add(commit);
    if (r.fromCommit() != null) {
      keep.add(r.fromCommit());
    }
    List<String> pruned = ReleaseBuilder.prune(paths, snap.doc().spec().releases().keep(), keep);
    if (!pruned.isEmpty()) {
      LOG.info("{}: pruned releases {}", name, pruned);
      d.runtime().pruned(name, snap.doc().spec().runtime(), pruned);
    }
    LiveState l = live(name);
    l.healAttempts = 0;
    l.healNotBefore = null;
    l.degraded = false;
    l.recovering = false;
    l.failingRounds = 0;
  }

  @SuppressWarnings("unchecked")
  List<HealthCheck> buildChecks(
      String name,
      Snapshot snap,
      String commit,
      DeploymentPaths paths,
      RolloutRecord r,
      boolean verifying)
      throws Exception {
    DeploymentSpec spec = snap.doc().spec();
    Map<String, Double> lastHealthy = new HashMap<>();
    String healthy = snap.row().lastHealthyCommit();
    if (healthy != null && !healthy.equals(commit)) {
      String json = d.store().baseline(name, healthy).orElse(null);
      if (json != null) {
        lastHealthy = JSON.readValue(json, Map.class);
      }
    }
    Map<String, Double> backupValues = new HashMap<>();
    if (r != null) {
      StateStore.BackupRow b = d.store().backup(r.id()).orElse(null);
      if (b != null && b.detailsJson() != null) {
        Map<String, Object> details = JSON.readValue(b.detailsJson(), Map.class);
        Object nd = details.get("noDecrease");
        if (nd instanceof Map<?, ?> m) {
          m.forEach((k, v) -> backupValues.put(String.valueOf(k), ((Number) v).doubleValue()));
        }
      }
    }
    Path release = paths.release(commit);
    CheckContext ctx =
        new CheckContext(name, commit, snap.desired().revision(), release, paths, verifying);
    CheckFactory.Inputs in =
        new CheckFactory.Inputs(
            lastHealthy,
            backupValues,
            service -> {
              try {
                return d.runtime().residentBytes(name, service);
              } catch (Exception e) {
                return -1;
              }
            },
            serviceEnv(name, commit, snap.desired().revision(), paths),
            logOffsets(r, commit, verifying),
            svc -> d.runtime().serviceLog(name, svc));
    List<HealthCheck> checks = new ArrayList<>(d.checks().build(spec.health(), ctx, in));
    if (spec.runtime().type() == RuntimeSpec.RuntimeType.compose
        && d.runtime().composeIfStarted() != null) {
      checks.add(
          0,
          d.checks()
              .containers(
                  d.runtime().composeIfStarted(),
                  name,
                  d.runtime().services(name, spec.runtime(), release),
                  commit,
                  spec.health()));
    }
    return checks;
  }

  @SuppressWarnings("unchecked")
  private Map<String, Long> logOffsets(RolloutRecord r, String commit, boolean verifying)
      throws Exception {
    Map<String, Long> out = new HashMap<>();
    if (!verifying || r == null || !commit.equals(r.toCommit())) {
      return out;
    }
    String json = d.store().marks(r.id()).orElse(null);
    if (json != null) {
      Object offsets = JSON.readValue(json, Map.class).get("logOffsets");
      if (offsets instanceof Map<?, ?> m) {
        m.forEach((k, v) -> out.put(String.valueOf(k), ((Number) v).longValue()));
      }
    }
    return out;
  }

  private Future<Void> rollBack(
      String name, Snapshot snap, RolloutRecord r, DeploymentPaths paths, LiveState l) {
    DeploymentSpec spec = snap.doc().spec();
    String target = snap.row().lastHealthyCommit();
    boolean haveTarget = target != null && !target.equals(r.toCommit());
    return blocking(
            () -> {
              step(
                  r,
                  "rollback-stop",
                  () -> {
                    d.runtime().stopAll(name, spec.runtime());
                    return "stopped " + StatusBuilder.short7(r.toCommit());
                  });
              if (r.restoreData()
                  && spec.rollback().restoreData()
                  && !r.dataRestored()
                  && d.store().backup(r.id()).isPresent()) {
                step(
                    r,
                    "restore",
                    () -> {
                      List<String> done = d.backups().restore(paths, r.id(), spec.backup());
                      d.store().setDataRestored(r.id());
                      return "restored "
                          + done
                          + " from "
                          + paths.backup(r.id())
                          + "; data at failure kept in "
                          + paths.backup(r.id()).resolve("failed");
                    });
              }
              if (!haveTarget) {
                d.store().setCurrentCommit(name, null);
                finish(
                    name,
                    r,
                    RolloutResult.Failed,
                    Reason.Failed,
                    "no healthy commit to return to: services stopped"
                        + (r.dataRestored() ? ", data restored" : ""));
                return false;
              }
              d.store().setCurrentCommit(name, target);
              step(
                  r,
                  "rollback-start",
                  () -> {
                    Path release = ensureRelease(name, snap.source(), target, spec);
                    d.runtime()
                        .start(
                            name,
                            target,
                            release,
                            spec.runtime(),
                            paths.logs(),
                            serviceEnv(name, target, null, paths));
                    return "started " + StatusBuilder.short7(target);
                  });
              return true;
            })
        .compose(
            started ->
                started
                    ? verify(name, snap, r, paths, target, Stage.RollingBack)
                    : Future.succeededFuture());
  }
}
