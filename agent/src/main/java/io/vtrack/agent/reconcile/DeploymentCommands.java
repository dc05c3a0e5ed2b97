package io.vtrack.agent.reconcile;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vtrack.agent.LogSetup;
import io.vtrack.agent.model.DeploymentSpec;
import io.vtrack.agent.model.RolloutKind;
import io.vtrack.agent.model.Stage;
import io.vtrack.agent.release.DeploymentPaths;
import io.vtrack.agent.release.GitRepositories;
import io.vtrack.agent.release.ReleaseBuilder;
import io.vtrack.agent.source.DesiredStateRegistry;
import io.vtrack.agent.store.DeploymentRepository.DeploymentRow;
import io.vtrack.agent.store.RolloutRecord;
import io.vtrack.agent.store.StateStore;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.event.Level;
import tools.jackson.databind.json.JsonMapper;

/**
 * What people ask for through the API and CLI (DESIGN.md §4): roll back, reconcile now (lifting the
 * quarantine), suspend and resume. Each is a command in the deployment's slot of the {@link
 * ReconcileQueue}, so it never races a reconcile or another command: of twenty rollbacks asked at
 * once, one starts and the others are refused. A rollout in progress is rolled back through {@link
 * ManualStops}; {@link PlanAndDiff} only reads.
 */
public final class DeploymentCommands {
  private static final Logger LOG = LoggerFactory.getLogger(DeploymentCommands.class);
  private static final JsonMapper JSON = JsonMapper.builder().build();

  /** The request conflicts with what the deployment is doing (HTTP 409). */
  public static final class ConflictException extends IllegalStateException {
    public ConflictException(String message) {
      super(message);
    }
  }

  /**
   * The answer to a command: the rollout it started, joined or stopped, if any, and what it means
   * (null when the rollout id says it all).
   */
  public record Answer(Long rolloutId, String message) {}

  private final Vertx vertx;
  private final StateStore store;
  private final DesiredStateRegistry registry;
  private final GitRepositories repos;
  private final ReconcileQueue queue;
  private final StateReader reader;
  private final RolloutTransitions transitions;
  private final Function<String, DeploymentState> states;
  private final ManualStops stops;
  private final Function<String, Future<Void>> publish;
  private final Path stateDir;

  DeploymentCommands(
      Vertx vertx,
      StateStore store,
      DesiredStateRegistry registry,
      GitRepositories repos,
      ReconcileQueue queue,
      StateReader reader,
      RolloutTransitions transitions,
      Function<String, DeploymentState> states,
      ManualStops.Stopping stopRollout,
      Function<String, Future<Void>> publish,
      Path stateDir) {
    this.vertx = vertx;
    this.stateDir = stateDir;
    this.store = store;
    this.registry = registry;
    this.repos = repos;
    this.queue = queue;
    this.reader = reader;
    this.transitions = transitions;
    this.states = states;
    this.stops = new ManualStops(store, queue, states, stopRollout);
    this.publish = publish;
  }

  private <T> Future<T> blocking(Callable<T> work) {
    return vertx.executeBlocking(work, false);
  }

  /** Starts a rollout to {@code to} with the document's spec; blocking, inside the slot. */
  long begin(Snapshot snap, String to, String trigger) throws Exception {
    Map<String, Object> t = new LinkedHashMap<>();
    t.put("source", snap.source().source());
    t.put("by", trigger == null ? "reconcile" : trigger);
    if (snap.source().effectiveRepoUrl() != null) {
      try {
        t.put("commit", repos.commitInfo(snap.source().effectiveRepoUrl(), to));
      } catch (Exception e) {
        // Commit details are informative only.
      }
    }
    DeploymentSpec spec = snap.doc().spec();
    long id =
        transitions.begin(
            RolloutRecord.create(
                snap.desired().name(),
                RolloutKind.Rollout,
                snap.row().currentCommit(),
                to,
                snap.desired().revision(),
                snap.desired().generation(),
                Stage.Preparing,
                spec.rollback().restoreData().enabled(),
                JSON.writeValueAsString(t),
                Specs.json(spec)));
    LogSetup.about(LOG, Level.INFO, snap.desired().name(), id, to)
        .log(
            "{}: rollout {} to {} ({})",
            snap.desired().name(),
            id,
            StatusBuilder.short7(to),
            snap.desired().revision());
    return id;
  }

  /**
   * Manual rollback: quarantines what runs and deploys a verified commit (default the previous).
   * While a rollout runs, it is that rollout that is rolled back: it stops (its verification at
   * once, another stage when it ends), its commit is quarantined, and the deployment goes back to
   * the last healthy commit, as when its checks fail.
   *
   * @param restoreData whether the data comes back; null: not for a rollback of what runs, and as
   *     the rollout's {@code rollback.restoreData} says for one in progress
   */
  public Future<Answer> rollback(String name, String to, Boolean restoreData, String caller) {
    // The rollout in progress is looked at outside the slot, which it may hold for a whole
    // verification; the check that counts is repeated inside it.
    return activeRollout(name)
        .compose(
            active ->
                active == null
                    ? submitRollback(name, to, Boolean.TRUE.equals(restoreData), caller)
                    : stopRollout(name, active, to, restoreData, caller));
  }

  /**
   * Stops {@code active} and rolls it back. A rollback cannot be stopped, and one asked twice is
   * refused the second time; a rollout that ended meanwhile leaves a rollback of what runs.
   */
  private Future<Answer> stopRollout(
      String name, RolloutRecord active, String to, Boolean restoreData, String caller) {
    if (active.manual() || active.stage() == Stage.RollingBack) {
      return Future.failedFuture(inProgress(name, active));
    }
    // The registry is read on the agent's context, not on the worker.
    boolean specSuspends = specSuspends(registry.get(name));
    return blocking(() -> stops.record(name, active, to, restoreData, caller, specSuspends))
        .compose(
            stop -> {
              if (stop == null) {
                return activeRollout(name)
                    .compose(
                        now ->
                            now == null
                                ? submitRollback(name, to, Boolean.TRUE.equals(restoreData), caller)
                                : Future.failedFuture(stopRefused(name, now)));
              }
              // Read outside the slot the rollout holds, beside the rollout's own reads; of
              // those, the one begun last is what stays published (StatusRefresh.ticket).
              return published(name, Future.succeededFuture(stops.take(name, stop)));
            });
  }

  static DeploymentRow deployed(StateStore store, String name) throws Exception {
    return store
        .deployments()
        .get(name)
        .orElseThrow(() -> new ConflictException("deployment " + name + " has not been deployed"));
  }

  /** Whether the document of {@code e} says {@code spec.suspend: true}. */
  private static boolean specSuspends(DesiredStateRegistry.Entry e) {
    return e != null
        && e.document().valid()
        && e.document().document().spec() != null
        && e.document().document().spec().suspended();
  }

  private static ConflictException stopRefused(String name, RolloutRecord active) {
    return active.manual() || active.stage() == Stage.RollingBack
        ? inProgress(name, active)
        : new ConflictException(
            "rollout "
                + active.id()
                + " of "
                + name
                + " is being rolled back already ("
                + active.stage()
                + ")");
  }

  private Future<RolloutRecord> activeRollout(String name) {
    return blocking(() -> store.rollouts().active(name).orElse(null));
  }

  private static ConflictException inProgress(String name, RolloutRecord active) {
    return new ConflictException(
        "rollout " + active.id() + " of " + name + " is in progress (" + active.stage() + ")");
  }

  private Future<Answer> submitRollback(
      String name, String to, boolean restoreData, String caller) {
    return queue.submit(
        name,
        () -> {
          DesiredStateRegistry.Entry entry = registry.get(name);
          if (entry == null || !entry.document().valid()) {
            return Future.failedFuture(
                new ConflictException("deployment " + name + " has no valid document"));
          }
          return published(name, blocking(() -> createRollback(entry, to, restoreData, caller)));
        });
  }

  /**
   * {@code done}, answered once the status says what it did: whoever reads the status after the
   * answer sees the rollout or rollback begun, the quarantine lifted or the deployment suspended,
   * not the state before. A status that cannot be read does not fail the command, which is
   * recorded; the next reconcile publishes it.
   */
  private <T> Future<T> published(String name, Future<T> done) {
    return done.compose(a -> publish.apply(name).transform(ar -> Future.succeededFuture(a)));
  }

  /** Starts the rollback; says, when the deployment is suspended, that it waits for resume. */
  private Answer createRollback(
      DesiredStateRegistry.Entry entry, String to, boolean restoreData, String caller)
      throws Exception {
    String name = entry.name();
    DeploymentRow row = deployed(store, name);
    RolloutRecord active = store.rollouts().active(name).orElse(null);
    if (active != null) {
      throw inProgress(name, active);
    }
    String current = row.currentCommit();
    List<String> verified = store.commits().verified(name);
    String target;
    if (to == null) {
      target =
          verified.stream()
              .filter(c -> !c.equals(current))
              .findFirst()
              .orElseThrow(
                  () ->
                      new IllegalArgumentException(
                          "no previously verified commit to roll back to"));
    } else {
      target =
          verified.stream()
              .filter(c -> c.startsWith(to))
              .findFirst()
              .orElseThrow(
                  () ->
                      new IllegalArgumentException(
                          "'" + to + "' is not a commit verified healthy here: " + verified));
    }
    if (target.equals(current)) {
      throw new IllegalArgumentException(StatusBuilder.short7(target) + " is already running");
    }
    // The last healthy commit comes back with the spec it was verified with.
    String specJson =
        target.equals(row.lastHealthyCommit()) && row.lastHealthySpecJson() != null
            ? row.lastHealthySpecJson()
            : Specs.json(entry.document().document().spec());
    // A commit verified long ago may have lost its release folder to releases.keep: it is
    // exported and prepared again (its prepare commands, a compose build) and validated, as when
    // it was first deployed; a release that is there is ready.
    Stage first =
        ReleaseBuilder.isExported(DeploymentPaths.of(stateDir, name), target)
            ? Stage.BackingUp
            : Stage.Preparing;
    long id =
        transitions.requestRollback(
            RolloutRecord.create(
                name,
                RolloutKind.ManualRollback,
                current,
                target,
                null,
                entry.document().generation(),
                first,
                restoreData,
                JSON.writeValueAsString(Map.of("by", "api", "caller", caller)),
                specJson),
            caller);
    if (!row.suspended() && !specSuspends(entry)) {
      return new Answer(id, null);
    }
    return new Answer(
        id,
        "rollback "
            + id
            + " to "
            + StatusBuilder.short7(target)
            + " waits: the deployment is suspended, and it runs when resumed");
  }

  /**
   * Lifts the quarantine and reconciles now. The plan is made inside the slot, so the caller learns
   * whether a rollout started.
   */
  public Future<Answer> reconcile(String name, String caller) {
    String trigger = "api:" + caller;
    return activeRollout(name)
        .compose(
            active -> {
              Future<Answer> inSlot = submitReconcile(name, trigger);
              // While a rollout runs, the answer does not wait for its slot to be free; it says
              // that the reconcile still comes (after a rollback, it tries the commit the rollback
              // quarantined again).
              return active == null
                  ? inSlot
                  : Future.succeededFuture(
                      new Answer(
                          active.id(),
                          "rollout "
                              + active.id()
                              + " is in progress; the reconcile follows it, with any quarantine"
                              + " lifted"));
            });
  }

  private Future<Answer> submitReconcile(String name, String trigger) {
    return queue.submit(
        name,
        () -> {
          DeploymentState s = states.apply(name);
          s.buildProblem = null;
          s.healNotBefore = null;
          s.healAttempts = 0;
          s.retryNotBefore = null;
          s.transientAttempts = 0;
          s.trigger = trigger;
          DesiredStateRegistry.Entry entry = registry.get(name);
          StateReader.LoopView view = StateReader.LoopView.of(s);
          return published(name, blocking(() -> reconcileNow(name, entry, view, trigger)));
        });
  }

  private Answer reconcileNow(
      String name, DesiredStateRegistry.Entry entry, StateReader.LoopView view, String trigger)
      throws Exception {
    int cleared = store.commits().clearQuarantine(name);
    String lifted = cleared > 0 ? "quarantine lifted; " : "";
    RolloutRecord active = store.rollouts().active(name).orElse(null);
    if (active != null) {
      return new Answer(active.id(), lifted + "rollout " + active.id() + " is in progress");
    }
    if (entry == null) {
      return new Answer(null, lifted + "reconcile queued");
    }
    Snapshot snap = reader.read(entry, view);
    Step step = Planner.plan(snap.desired(), snap.observed());
    if (step instanceof Step.Begin b) {
      long id = begin(snap, b.toCommit(), trigger);
      return new Answer(id, lifted + "rollout " + id + " to " + b.toCommit() + " started");
    }
    String what =
        step instanceof Step.Stall st
            ? "stalled: " + st.problem().message()
            : step instanceof Step.Hold h
                ? "holding (" + h.reason() + "): " + h.message()
                : step instanceof Step.Heal
                    ? "self-heal"
                    : step instanceof Step.Reroute r
                        ? "the switch proxy's routes are written again: " + r.why()
                        : "nothing to do: "
                            + StatusBuilder.short7(snap.row().currentCommit())
                            + " is what is desired";
    return new Answer(null, lifted + what);
  }

  /**
   * Suspends or resumes through the API; persisted, so it holds across agent restarts. Answers what
   * it means now: null, or, while a rollout is active, what becomes of it: a stage that has begun
   * runs to its end (a rollout holds its deployment's slot for a stage, and a verification takes up
   * to its {@code startupTimeout} and window), so the flag is written at once rather than after it,
   * and the next step planned sees it.
   */
  public Future<String> setSuspended(String name, boolean suspended, String caller) {
    return activeRollout(name)
        .compose(
            active -> {
              if (active == null) {
                return queue.submit(
                    name,
                    () -> {
                      states.apply(name).trigger = "api:" + caller;
                      return published(
                          name,
                          blocking(() -> recordSuspended(name, suspended, caller))
                              .map((String) null));
                    });
              }
              return published(
                  name,
                  blocking(() -> recordSuspended(name, suspended, caller))
                      .map(
                          x -> {
                            // A reconcile follows, as after a command in the slot: a held
                            // rollout goes on when resumed, and the status says what the flag
                            // means now.
                            queue.enqueue(name);
                            return StatusBuilder.heldRollout(active, suspended);
                          }));
            });
  }

  private Void recordSuspended(String name, boolean suspended, String caller) throws Exception {
    if (store.deployments().get(name).isEmpty()) {
      throw new ConflictException("deployment " + name + " has not been reconciled yet");
    }
    store.transaction(
        () -> {
          store.deployments().setSuspended(name, suspended);
          store.events().add(name, suspended ? "Suspended" : "Resumed", null, "by " + caller);
          return null;
        });
    return null;
  }
}
