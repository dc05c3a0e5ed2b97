package io.vtrack.agent.reconcile;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vtrack.agent.LogSetup;
import io.vtrack.agent.metrics.AgentMetrics;
import io.vtrack.agent.model.DeploymentSpec;
import io.vtrack.agent.model.Reason;
import io.vtrack.agent.model.RolloutResult;
import io.vtrack.agent.model.Stage;
import io.vtrack.agent.release.DeploymentPaths;
import io.vtrack.agent.release.ReleaseBuilder;
import io.vtrack.agent.runtime.Runtimes;
import io.vtrack.agent.store.CrashPoints;
import io.vtrack.agent.store.Instance;
import io.vtrack.agent.store.RolloutRecord;
import io.vtrack.agent.store.RolloutRepository;
import io.vtrack.agent.store.StateStore;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.event.Level;

/**
 * Runs the stage a rollout is in (DESIGN.md §5) and moves it on through {@link RolloutTransitions}.
 * It returns what the loop must know ({@link Outcome}) and never touches the loop's state or
 * publishes status. A failure of the commit moves the rollout on (quarantine, roll back); a failure
 * of the host leaves it where it is, for the reconciler to retry with backoff.
 */
final class RolloutExecutor {
  private static final Logger LOG = LoggerFactory.getLogger(RolloutExecutor.class);

  /** What one stage leaves for the loop. */
  sealed interface Outcome {
    /** The rollout moved on (or ended): plan again. */
    record Moved() implements Outcome {}

    /** {@code commit} was verified healthy: monitoring and self-heal start afresh. */
    record Verified(String commit) implements Outcome {}

    /**
     * The document cannot be acted on as it is for {@code commit}: remembered until the document's
     * generation or the desired commit changes.
     */
    record Stalled(ReconcileError.Stalled problem, String generation, String commit)
        implements Outcome {}
  }

  private final Vertx vertx;
  private final StateStore store;
  private final Runtimes runtime;
  private final RolloutSteps steps;
  private final VerifyStage verify;
  private final RollbackStage rollback;
  private final BlueGreenSteps blueGreen;
  private final PreviewStage preview;
  private final LatencyNow latencyNow;
  private final RolloutTransitions transitions;
  private final AgentMetrics metrics;
  private final EventStream events;
  private final Path stateDir;
  private final int keepRollouts;

  /** When a rollback asked for during a rollout takes effect. */
  enum StopWhen {
    /** Its verification (or preview) ended at once, or a command of it was killed. */
    NOW,
    /** The stage that runs ends first. */
    STAGE_END,
    /** No stage runs (it is held, or between two): before the next one. */
    NEXT_STAGE
  }

  /** Deployments whose rollout runs a stage now; on the agent's context. */
  private final Set<String> inStage = new HashSet<>();

  /** Rollouts whose services this agent process started just now: no need to look first. */
  private final Set<Long> deployedHere = new HashSet<>();

  RolloutExecutor(
      Vertx vertx,
      StateStore store,
      Runtimes runtime,
      RolloutSteps steps,
      VerifyStage verify,
      RollbackStage rollback,
      BlueGreenSteps blueGreen,
      PreviewStage preview,
      LatencyNow latencyNow,
      RolloutTransitions transitions,
      AgentMetrics metrics,
      EventStream events,
      Path stateDir,
      int keepRollouts) {
    this.vertx = vertx;
    this.store = store;
    this.runtime = runtime;
    this.steps = steps;
    this.verify = verify;
    this.rollback = rollback;
    this.blueGreen = blueGreen;
    this.preview = preview;
    this.latencyNow = latencyNow;
    this.transitions = transitions;
    this.metrics = metrics;
    this.events = events;
    this.stateDir = stateDir;
    this.keepRollouts = keepRollouts;
  }

  private <T> Future<T> blocking(Callable<T> work) {
    return vertx.executeBlocking(work, false);
  }

  /** Runs the stage {@code r} is in; called on the agent's context. */
  Future<Outcome> run(Snapshot snap, RolloutRecord r) {
    StageInput in = StageInput.of(snap, r, DeploymentPaths.of(stateDir, r.deployment()));
    Stage stage = r.stage();
    CrashPoints.reach("stage." + stage);
    inStage.add(r.deployment());
    Future<Outcome> work =
        stoppable(r)
            ? blocking(() -> stopRequest(r))
                .compose(
                    stop ->
                        stop == null
                            ? stage(in, r, stage)
                            : blocking(() -> stopped(in, stage, stop)))
            : stage(in, r, stage);
    return work.recover(err -> onError(in, stage, err))
        .onComplete(x -> inStage.remove(r.deployment()));
  }

  /**
   * A rollback was asked for while {@code deployment}'s rollout {@code rolloutId} ran (recorded in
   * the store, which every stage reads as it begins and ends): a verification of the new revision
   * ends now with {@code message}, and a prepare, validate or build command that runs is killed.
   * Says when it takes effect. Call on the agent's context.
   */
  StopWhen stop(String deployment, long rolloutId, String message) {
    // Both: a command check of the verification is one of its rounds, not a rollout command.
    boolean verifying = verify.stop(deployment, message);
    if (steps.stopCommands(rolloutId) || verifying) {
      return StopWhen.NOW;
    }
    return inStage.contains(deployment) ? StopWhen.STAGE_END : StopWhen.NEXT_STAGE;
  }

  /** Whether {@code r} may have been asked to stop (a rollout that has not begun to roll back). */
  private static boolean stoppable(RolloutRecord r) {
    return !r.manual() && r.stage() != Stage.RollingBack && r.stage() != Stage.Done;
  }

  /** The rollback asked for while {@code r} ran, or null. */
  private RolloutRepository.StopRequest stopRequest(RolloutRecord r) throws Exception {
    return stoppable(r) ? store.rollouts().stopRequest(r.id()).orElse(null) : null;
  }

  /**
   * A rollback was asked for while {@code stage} ran or before it began: the rollout fails there,
   * its commit quarantined, and goes back as after a failure (before the switch, nothing runs
   * differently and it simply ends).
   */
  private Outcome stopped(StageInput in, Stage stage, RolloutRepository.StopRequest stop)
      throws Exception {
    return failed(in, stage, Reason.ManualRollback, stop.describe(), true);
  }

  private Future<Outcome> stage(StageInput in, RolloutRecord r, Stage stage) {
    return switch (stage) {
      case Preparing -> blocking(() -> moved(in, Stage.Preparing, () -> steps.prepare(in)));
      case Validating -> blocking(() -> moved(in, Stage.Validating, () -> steps.validate(in)));
      case BackingUp -> blocking(() -> moved(in, Stage.BackingUp, () -> steps.backup(in)));
      case Previewing -> preview.run(in).compose(v -> blocking(() -> afterPreview(in, v)));
      case Deploying ->
          latencyNow
              .measure(in)
              .compose(
                  latencyBefore ->
                      blocking(
                          () -> {
                            boolean[] started = {true};
                            Outcome o =
                                moved(
                                    in,
                                    Stage.Deploying,
                                    () -> {
                                      if (in.spec().blueGreen() != null) {
                                        started[0] = blueGreen.deploy(in);
                                      } else {
                                        if (!in.snap().instances().isEmpty()) {
                                          blueGreen.retire(in);
                                        }
                                        steps.deploy(in, latencyBefore);
                                      }
                                    });
                            // A candidate recorded before this stage ran (power lost as it
                            // started) is not known to run: verification starts what does not.
                            if (started[0]) {
                              deployedHere.add(r.id());
                            }
                            return o;
                          }));
      case Verifying ->
          blocking(() -> candidateTarget(in))
              .compose(
                  target ->
                      verify
                          .verify(
                              in,
                              r.toCommit(),
                              in.spec(),
                              target,
                              // A manual rollback's target was verified before: one round.
                              r.manual() ? Verification.Mode.KNOWN_GOOD : Verification.Mode.VERIFY,
                              !deployedHere.remove(r.id()))
                          .compose(v -> blocking(() -> afterVerify(in, v))));
      case RollingBack -> rollback.run(in).compose(v -> blocking(() -> afterRollback(in, v)));
      case Done -> Future.succeededFuture(new Outcome.Moved());
    };
  }

  /**
   * Ends {@code r}, which is retrying a failure of the host before it touched anything that runs,
   * because the documents now ask for {@code desired} or another spec: Failed, with that failure as
   * its reason, and its commit not quarantined (it was never tried).
   */
  Future<Outcome> supersede(
      Snapshot snap, RolloutRecord r, String desired, ReconcileError.Transient retrying) {
    StageInput in = StageInput.of(snap, r, DeploymentPaths.of(stateDir, r.deployment()));
    String by =
        desired.equals(r.toCommit())
            ? "a changed document"
            : "commit " + StatusBuilder.short7(desired);
    return blocking(
        () ->
            failed(
                in,
                r.stage(),
                retrying.reason(),
                "given up for " + by + " while retrying: " + retrying.message(),
                false));
  }

  /** Stage work that returns nothing. */
  @FunctionalInterface
  private interface StageWork {
    void run() throws Exception;
  }

  private Outcome moved(StageInput in, Stage stage, StageWork work) throws Exception {
    work.run();
    RolloutRepository.StopRequest stop = stopRequest(in.rollout());
    if (stop != null) {
      return stopped(in, stage, stop);
    }
    RolloutMachine.Transition t = transitions.advance(in.rollout(), stage);
    if (t.next() == Stage.Done) {
      ended(in, t.result(), null);
    }
    return new Outcome.Moved();
  }

  /** Where the commit under verification runs: the candidate instance, or the deployment. */
  private Target candidateTarget(StageInput in) throws Exception {
    if (in.spec().blueGreen() == null) {
      return Target.recreate(in.name(), in.paths());
    }
    Instance c = blueGreen.candidate(in.name(), in.rollout().id());
    if (c == null) {
      throw new ReconcileError.Failed(
          new ReconcileError.Transient(
              Reason.AgentError,
              "rollout " + in.rollout().id() + " has no candidate instance: deploying again"));
    }
    return Target.of(c, in.paths());
  }

  private Outcome afterVerify(StageInput in, VerifyStage.Verdict v) throws Exception {
    RolloutRecord r = in.rollout();
    if (!v.healthy()) {
      return failed(in, Stage.Verifying, v.reason(), v.message(), true);
    }
    // Asked to stop as the verification ended: it does not switch.
    RolloutRepository.StopRequest stop = stopRequest(r);
    if (stop != null) {
      return stopped(in, Stage.Verifying, stop);
    }
    if (in.spec().blueGreen() != null) {
      Instance to = blueGreen.candidate(in.name(), r.id());
      blueGreen.switchTo(in, to, in.spec());
      Instance from = in.snap().live();
      // The old one stays warm (a rollback is a switch back); a commit rolled back by hand goes.
      String until =
          Instant.now()
              .plusMillis(r.manual() ? 0 : in.spec().blueGreen().keepWarm().millis())
              .toString();
      transitions.switched(r, to, from, until, v.baselinesJson(), Specs.json(in.spec()));
    } else {
      transitions.succeeded(r, v.baselinesJson(), Specs.json(in.spec()));
    }
    ended(in, RolloutResult.Succeeded, null);
    pruneReleases(in, r.toCommit(), r.fromCommit());
    return new Outcome.Verified(r.toCommit());
  }

  /** A preview that failed quarantines the commit; nothing live was touched, nothing goes back. */
  private Outcome afterPreview(StageInput in, VerifyStage.Verdict v) throws Exception {
    if (v.reason() == Reason.ManualRollback) {
      return failed(in, Stage.Previewing, v.reason(), v.message(), true);
    }
    if (!v.healthy()) {
      return failed(
          in,
          Stage.Previewing,
          Reason.PreviewFailed,
          "on a copy of the data: " + v.reason() + ": " + v.message(),
          true);
    }
    return moved(in, Stage.Previewing, () -> {});
  }

  private Outcome afterRollback(StageInput in, VerifyStage.Verdict v) throws Exception {
    RolloutRecord r = in.rollout();
    if (v == null) {
      ended(in, RolloutResult.Failed, Reason.Failed);
      return new Outcome.Moved();
    }
    if (!v.healthy()) {
      return failed(in, Stage.RollingBack, v.reason(), v.message(), true);
    }
    String target = in.snap().row().lastHealthyCommit();
    transitions.rolledBack(r, target);
    ended(in, r.manual() ? RolloutResult.Failed : RolloutResult.RolledBack, r.reason());
    return new Outcome.Moved();
  }

  /** A failure of the commit (or, with {@code quarantine} false, of the document). */
  private Outcome failed(
      StageInput in, Stage stage, Reason reason, String message, boolean quarantine)
      throws Exception {
    RolloutRecord r = in.rollout();
    DeploymentSpec spec = in.spec();
    String lastHealthy = in.snap().row().lastHealthyCommit();
    boolean haveHealthy = lastHealthy != null && !lastHealthy.equals(r.toCommit());
    LogSetup.about(LOG, Level.WARN, in.name(), r.id(), r.toCommit())
        .log("{}: rollout {} failed in {}: {} {}", in.name(), r.id(), stage, reason, message);
    // A rollback asked for by hand rolls back even where rollback.automatic is false.
    boolean automatic = spec.rollback().automatic() || reason == Reason.ManualRollback;
    RolloutMachine.Transition t =
        transitions.fail(r, stage, reason, message, automatic, haveHealthy, quarantine);
    if (t.next() == Stage.Done) {
      ended(in, t.result(), reason);
    }
    return new Outcome.Moved();
  }

  private Future<Outcome> onError(StageInput in, Stage stage, Throwable err) {
    ReconcileError e = ErrorMapping.classify(err);
    RolloutRecord r = in.rollout();
    if (e instanceof ReconcileError.CommitFailure c) {
      if (stage == Stage.Previewing) {
        return blocking(
            () ->
                failed(
                    in,
                    stage,
                    Reason.PreviewFailed,
                    "on a copy of the data: " + c.reason() + ": " + c.message(),
                    true));
      }
      return blocking(() -> failed(in, stage, c.reason(), c.message(), true));
    }
    if (e instanceof ReconcileError.Stalled s) {
      if (stage.ordinal() >= Stage.Deploying.ordinal() && stage != Stage.Done) {
        // What ran was already stopped: go back to it, without blaming the commit.
        return blocking(() -> failed(in, stage, s.reason(), s.message(), false));
      }
      return blocking(
          () -> {
            transitions.stall(r, s.reason(), s.message());
            ended(in, RolloutResult.Failed, s.reason());
            return new Outcome.Stalled(s, r.generation(), r.toCommit());
          });
    }
    // A rollout asked to stop is not retried: the host's failure ends it as the stop says.
    return blocking(() -> stopRequest(r))
        .compose(
            stop -> {
              if (stop != null) {
                return blocking(() -> stopped(in, stage, stop));
              }
              LOG.debug("{}: rollout {} stage {} will be retried: {}", in.name(), r.id(), stage, e);
              return Future.failedFuture(new ReconcileError.Failed(e));
            });
  }

  private void ended(StageInput in, RolloutResult result, Reason reason) {
    RolloutRecord r = in.rollout();
    steps.ended(r.id());
    Duration took = Duration.between(Instant.parse(r.startedAt()), Instant.now());
    metrics.rolloutFinished(in.name(), result.name(), took);
    events.emit(
        "rollout",
        in.name(),
        "rolloutId",
        r.id(),
        "result",
        result.name(),
        "reason",
        reason == null ? null : reason.name(),
        "durationMs",
        took.toMillis());
    LogSetup.about(LOG, Level.INFO, in.name(), r.id(), r.toCommit())
        .log("{}: rollout {} {} in {} ms", in.name(), r.id(), result, took.toMillis());
    try {
      int pruned = store.rollouts().prune(in.name(), keepRollouts);
      store.events().prune(in.name(), keepRollouts * 10);
      if (pruned > 0) {
        LOG.debug("{}: pruned {} old rollouts from history", in.name(), pruned);
      }
    } catch (Exception ex) {
      LOG.warn("{}: cannot prune history: {}", in.name(), ex.getMessage());
    }
  }

  private void pruneReleases(StageInput in, String commit, String from) throws Exception {
    Set<String> keep = new HashSet<>();
    keep.add(commit);
    if (from != null) {
      keep.add(from);
    }
    List<String> pruned = ReleaseBuilder.prune(in.paths(), in.spec().releases().keep(), keep);
    if (!pruned.isEmpty()) {
      store.releases().forget(in.name(), pruned);
      LOG.info("{}: pruned releases {}", in.name(), pruned);
      runtime.pruned(in.name(), in.spec().runtime(), pruned);
    }
  }
}
