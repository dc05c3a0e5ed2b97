package io.vtrack.agent.reconcile;

import io.github.resilience4j.core.IntervalFunction;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vtrack.agent.backup.BackupManager;
import io.vtrack.agent.check.CheckFactory;
import io.vtrack.agent.metrics.AgentMetrics;
import io.vtrack.agent.model.CheckSpec;
import io.vtrack.agent.model.DeploymentSpec;
import io.vtrack.agent.model.RuntimeSpec;
import io.vtrack.agent.model.VTrackDeployment;
import io.vtrack.agent.release.DeploymentPaths;
import io.vtrack.agent.release.GitRepositories;
import io.vtrack.agent.release.ReleaseBuilder;
import io.vtrack.agent.release.RevisionNotFoundException;
import io.vtrack.agent.release.SourceUnavailableException;
import io.vtrack.agent.runtime.AppRuntime;
import io.vtrack.agent.runtime.CommandPolicy;
import io.vtrack.agent.runtime.Runtimes;
import io.vtrack.agent.source.DesiredDocument;
import io.vtrack.agent.source.DesiredStateRegistry;
import io.vtrack.agent.source.DocumentReader;
import io.vtrack.agent.store.RolloutRecord;
import io.vtrack.agent.store.StateStore;
import io.vtrack.agent.store.StateStore.DeploymentRow;
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
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.json.JsonMapper;

/**
 * The per-deployment reconcile loop. Every input only enqueues a name; a reconcile of one
 * deployment never overlaps another of the same; each reads the whole desired and observed state,
 * asks {@link Planner} for the next step and runs it. Confined to one Vert.x context: blocking work
 * (jgit, JDBC, process control) goes through {@code executeBlocking}.
 */
public final class Reconciler {
  private static final Logger LOG = LoggerFactory.getLogger(Reconciler.class);
  private static final JsonMapper JSON = JsonMapper.builder().build();

  /** Self-heal restarts: capped exponential backoff with jitter. */
  private static final IntervalFunction HEAL_BACKOFF =
      IntervalFunction.ofExponentialRandomBackoff(
          Duration.ofSeconds(1), 2.0, 0.2, Duration.ofMinutes(2));

  /** What the rest of the agent needs from the agent's wiring. */
  public record Deps(
      Vertx vertx,
      StateStore store,
      DesiredStateRegistry registry,
      GitRepositories repos,
      ReleaseBuilder releases,
      Runtimes runtime,
      BackupManager backups,
      CheckFactory checks,
      AgentMetrics metrics,
      io.vtrack.agent.notify.Notifier notifier,
      Path stateDir,
      CommandPolicy commandPolicy) {}

  private final Deps d;
  private final Vertx vertx;
  private final RolloutExecutor rollouts;
  private final Map<String, LiveState> live = new HashMap<>();
  private final Map<String, DeploymentStatus> published = new ConcurrentHashMap<>();
  private final List<Consumer<String>> listeners = new ArrayList<>();
  private boolean stopped;

  public Reconciler(Deps deps) {
    this.d = deps;
    this.vertx = deps.vertx();
    this.rollouts =
        new RolloutExecutor(
            deps,
            new RolloutExecutor.Host() {
              @Override
              public LiveState live(String name) {
                return Reconciler.this.live(name);
              }

              @Override
              public Future<Void> publish(String name) {
                return Reconciler.this.publish(name);
              }
            });
    deps.metrics()
        .queueDepth(() -> live.values().stream().filter(l -> l.running || l.dirty).count());
  }

  /** Called with a deployment's name whenever its status was recomputed. */
  public void onStatus(Consumer<String> listener) {
    listeners.add(listener);
  }

  /** The last published status, or null. Safe from any thread. */
  public DeploymentStatus status(String name) {
    return published.get(name);
  }

  private LiveState live(String name) {
    return live.computeIfAbsent(name, n -> new LiveState());
  }

  /** Says "deployment {@code name} may need work"; must be called on the reconciler's context. */
  public void enqueue(String name) {
    enqueue(name, null);
  }

  /** As {@link #enqueue(String)}, noting what triggered it for the rollout record. */
  public void enqueue(String name, String trigger) {
    if (stopped) {
      return;
    }
    LiveState l = live(name);
    if (trigger != null) {
      l.trigger = trigger;
    }
    if (l.running) {
      l.dirty = true;
      return;
    }
    l.running = true;
    loop(name, 0)
        .onComplete(
            ar -> {
              if (ar.failed()) {
                logFailure(name, l, ar.cause());
              } else {
                l.lastFailure = null;
              }
              l.running = false;
              if (l.dirty) {
                l.dirty = false;
                enqueue(name);
              } else {
                List<Promise<Void>> waiters = new ArrayList<>(l.idleWaiters);
                l.idleWaiters.clear();
                waiters.forEach(Promise::tryComplete);
              }
            });
  }

  /**
   * The Docker engine's event stream (re)connected: every compose deployment heals now if it needs
   * to, instead of waiting out a backoff that grew while the engine was away.
   */
  public void engineReconnected() {
    for (String name : d.registry().names()) {
      DesiredStateRegistry.Entry e = d.registry().get(name);
      VTrackDeployment doc = e == null ? null : e.document().document();
      boolean compose =
          doc != null
              && doc.spec() != null
              && doc.spec().runtime() != null
              && doc.spec().runtime().type()
                  == io.vtrack.agent.model.RuntimeSpec.RuntimeType.compose;
      if (compose) {
        LiveState l = live(name);
        l.healAttempts = 0;
        l.healNotBefore = null;
      }
      enqueue(name, compose ? "docker-reconnect" : null);
    }
  }

  /**
   * An I/O failure (an engine or repository away) is logged once per distinct message, without a
   * stack trace, until a reconcile succeeds; anything else is a bug and logged in full.
   */
  private static void logFailure(String name, LiveState l, Throwable cause) {
    boolean io = false;
    Throwable root = cause;
    for (Throwable t = cause; t != null; t = t.getCause() == t ? null : t.getCause()) {
      io |= t instanceof java.io.IOException;
      root = t;
    }
    if (!io) {
      LOG.error("{}: reconcile failed", name, cause);
      return;
    }
    String msg = root.getClass().getSimpleName() + ": " + root.getMessage();
    if (!msg.equals(l.lastFailure)) {
      LOG.warn("{}: reconcile failed, retried on the next event or round: {}", name, msg);
    }
    l.lastFailure = msg;
  }

  public void stop() {
    stopped = true;
    for (LiveState l : live.values()) {
      if (l.monitor != null && l.monitor.timerId >= 0) {
        vertx.cancelTimer(l.monitor.timerId);
      }
      if (l.healTimer != null) {
        vertx.cancelTimer(l.healTimer);
      }
    }
  }

  private Future<Void> loop(String name, int depth) {
    if (stopped) {
      return Future.succeededFuture();
    }
    return once(name)
        .compose(
            more -> {
              if (more && depth < 50) {
                return loop(name, depth + 1);
              }
              return Future.succeededFuture();
            });
  }

  private <T> Future<T> blocking(Callable<T> work) {
    return vertx.executeBlocking(work, false);
  }

  /** One reconcile: read everything, plan, act. Returns whether to go again at once. */
  private Future<Boolean> once(String name) {
    DesiredStateRegistry.Entry entry = d.registry().get(name);
    if (entry == null) {
      return removed(name).map(false);
    }
    LiveState l = live(name);
    return blocking(() -> gather(entry, l))
        .compose(
            snap -> {
              Step step = Planner.plan(snap.desired(), snap.observed());
              LOG.debug("{}: {}", name, step);
              return execute(name, snap, step, l);
            })
        .compose(more -> publish(name).map(more));
  }

  // ---------------------------------------------------------------- reading

  private Snapshot gather(DesiredStateRegistry.Entry entry, LiveState l) throws Exception {
    return gather(entry, l, false);
  }

  /**
   * Reads the whole desired and observed state of a deployment. {@code readOnly} (for plan and
   * diff) writes nothing: neither the store nor a repository mirror is touched.
   */
  private Snapshot gather(DesiredStateRegistry.Entry entry, LiveState l, boolean readOnly)
      throws Exception {
    String name = entry.name();
    DesiredDocument src = entry.document();
    VTrackDeployment doc = src.document();
    Desired.Problem blocker = blocker(entry, l);
    String revision =
        doc != null && doc.spec() != null && doc.spec().source() != null
            ? doc.spec().source().revision()
            : null;
    if (readOnly) {
      // Nothing is written: a deployment never reconciled reads as an empty row.
    } else if (doc != null && src.valid()) {
      d.runtime().bind(name, doc.spec().runtime());
      d.store()
          .upsertDeployment(
              name,
              JSON.writeValueAsString(src.source()),
              DocumentReader.CANONICAL.writeValueAsString(doc.spec()),
              src.generation());
    } else if (d.store().deployment(name).isEmpty()) {
      d.store()
          .upsertDeployment(name, JSON.writeValueAsString(src.source()), null, src.generation());
    }
    DeploymentRow row =
        d.store()
            .deployment(name)
            .orElse(
                new DeploymentRow(name, null, null, src.generation(), 0, false, null, null, null));
    boolean suspended =
        row.suspended() || (doc != null && doc.spec() != null && doc.spec().suspended());

    String commit = null;
    Desired.Problem resolution = null;
    if (blocker == null && src.valid()) {
      String url = src.effectiveRepoUrl();
      try {
        if (!d.repos().hasMirror(url) && !readOnly) {
          d.repos().fetch(url, doc.spec().source().credentials());
        }
        // A failed fetch is the cause, even when the stale mirror cannot resolve the revision.
        String fetchError = d.repos().fetchError(url);
        if (fetchError != null) {
          resolution = new Desired.Problem(Reason.SourceUnavailable, fetchError);
        } else {
          commit = d.repos().resolve(url, revision);
        }
      } catch (SourceUnavailableException e) {
        resolution = new Desired.Problem(Reason.SourceUnavailable, e.getMessage());
      } catch (RevisionNotFoundException e) {
        resolution = new Desired.Problem(Reason.RevisionNotFound, e.getMessage());
      }
    }
    boolean promotionOk = true;
    if (commit != null && doc.spec().promotion() != null) {
      promotionOk =
          d.store().verifiedCommits(doc.spec().promotion().requireHealthyIn()).contains(commit);
    }
    boolean automatic = doc == null || doc.spec() == null || doc.spec().rollback().automatic();
    Desired desired =
        new Desired(
            name,
            blocker,
            suspended,
            src.generation(),
            revision,
            commit,
            resolution,
            promotionOk,
            automatic);

    List<String> verified = d.store().verifiedCommits(name);
    List<String> quarantined = d.store().quarantinedCommits(name, src.generation());
    RolloutRecord active = d.store().activeRollout(name).orElse(null);
    RolloutRecord last = d.store().lastFinishedRollout(name).orElse(null);
    String current = row.currentCommit();
    List<String> dead = new ArrayList<>();
    if (current != null
        && verified.contains(current)
        && active == null
        && blocker == null
        && doc != null
        && doc.spec() != null) {
      Map<String, AppRuntime.ServiceState> states = d.runtime().observe(name);
      Path release = DeploymentPaths.of(d.stateDir(), name).release(current);
      for (String s : d.runtime().services(name, doc.spec().runtime(), release)) {
        AppRuntime.ServiceState st = states.get(s);
        if (st == null || !st.alive() || !current.equals(st.commit())) {
          dead.add(s);
        }
      }
    }
    String qReason =
        commit != null && quarantined.contains(commit)
            ? d.store().quarantineReason(name, commit).orElse(null)
            : null;
    Observed observed =
        new Observed(
            active,
            current,
            row.lastHealthyCommit(),
            new HashSet<>(quarantined),
            dead,
            l.degraded,
            l.healNotBefore,
            Instant.now());
    return new Snapshot(src, doc, desired, observed, row, verified, quarantined, qReason, last);
  }

  private Desired.Problem blocker(DesiredStateRegistry.Entry entry, LiveState l) {
    if (entry.duplicated()) {
      List<String> where = new ArrayList<>();
      for (DesiredDocument x : entry.duplicates()) {
        where.add(x.source().kind() + " " + x.source().file());
      }
      return new Desired.Problem(
          Reason.DuplicateName,
          "name '"
              + entry.name()
              + "' is declared by "
              + entry.duplicates().size()
              + " documents: "
              + where);
    }
    DesiredDocument src = entry.document();
    if (!src.valid()) {
      List<String> errs = new ArrayList<>();
      src.errors().forEach(e -> errs.add(e.toString()));
      return new Desired.Problem(
          Reason.InvalidSpec, src.source().file() + ": " + String.join("; ", errs));
    }
    DeploymentSpec spec = src.document().spec();
    String unavailable = d.runtime().unavailable(spec.runtime().type());
    if (unavailable != null) {
      return new Desired.Problem(Reason.UnsupportedRuntime, unavailable);
    }
    String denied = deniedCommand(entry.name(), spec, null);
    if (denied != null) {
      return new Desired.Problem(Reason.CommandNotAllowed, denied);
    }
    if (l.buildProblem != null && src.generation().equals(l.buildProblemGeneration)) {
      return l.buildProblem;
    }
    return null;
  }

  /**
   * The first command of the document that {@code allowedCommands} refuses, as a message naming the
   * field, or null. argv[0] is resolved as it will be when it runs (the agent's PATH, the release
   * folder for relative paths); the runtime checks again at every start.
   */
  private String deniedCommand(String name, DeploymentSpec spec, String commit) {
    CommandPolicy policy = d.commandPolicy();
    if (!policy.restricts()) {
      return null;
    }
    if (spec.runtime().type() == RuntimeSpec.RuntimeType.compose
        && !policy.permitsAny(List.of("docker-compose", "docker"))) {
      return "spec.runtime.type: compose needs the compose CLI (docker-compose or docker) in"
          + " allowedCommands "
          + policy.allowed();
    }
    Path release =
        DeploymentPaths.of(d.stateDir(), name).release(commit == null ? "unresolved" : commit);
    Map<String, CommandWhere> commands = new LinkedHashMap<>();
    for (int i = 0; i < spec.runtime().services().size(); i++) {
      var s = spec.runtime().services().get(i);
      commands.put(
          "spec.runtime.services[" + i + "].command", new CommandWhere(s.command(), s.cwd()));
    }
    for (int i = 0; i < spec.prepare().size(); i++) {
      var c = spec.prepare().get(i);
      commands.put("spec.prepare[" + i + "].command", new CommandWhere(c.command(), c.cwd()));
    }
    for (int i = 0; i < spec.validate().size(); i++) {
      var c = spec.validate().get(i);
      commands.put("spec.validate[" + i + "].command", new CommandWhere(c.command(), c.cwd()));
    }
    for (int i = 0; i < spec.health().checks().size(); i++) {
      CheckSpec c = spec.health().checks().get(i);
      if (c.command() != null) {
        commands.put(
            "spec.health.checks[" + i + "].command.command",
            new CommandWhere(c.command().command(), c.command().cwd()));
      }
    }
    for (Map.Entry<String, CommandWhere> e : commands.entrySet()) {
      try {
        policy.approve(e.getValue().argv(), release.resolve(e.getValue().cwd()).normalize());
      } catch (CommandPolicy.NotAllowedException ex) {
        return e.getKey() + ": " + ex.getMessage();
      }
    }
    return null;
  }

  private record CommandWhere(List<String> argv, String cwd) {}

  // ---------------------------------------------------------------- acting

  private Future<Boolean> execute(String name, Snapshot snap, Step step, LiveState l) {
    l.hold = null;
    if (step instanceof Step.Stall s) {
      stopMonitor(l);
      return Future.succeededFuture(false);
    }
    if (step instanceof Step.Hold h) {
      l.hold = h.reason();
      if (h.reason() != Reason.Suspended) {
        ensureMonitor(name, snap, l);
      } else {
        stopMonitor(l);
      }
      return Future.succeededFuture(false);
    }
    if (step instanceof Step.Idle) {
      ensureMonitor(name, snap, l);
      return Future.succeededFuture(false);
    }
    if (step instanceof Step.HealLater later) {
      if (l.healTimer == null) {
        long delay = Math.max(1, Duration.between(Instant.now(), later.at()).toMillis());
        l.healTimer =
            vertx.setTimer(
                delay,
                id -> {
                  l.healTimer = null;
                  enqueue(name);
                });
      }
      return Future.succeededFuture(false);
    }
    if (step instanceof Step.Heal heal) {
      return heal(name, snap, heal, l).map(false);
    }
    if (step instanceof Step.Begin begin) {
      l.recovering = false;
      stopMonitor(l);
      String trigger = l.trigger;
      l.trigger = null;
      return blocking(() -> begin(name, snap, begin.toCommit(), trigger)).map(true);
    }
    Step.Resume resume = (Step.Resume) step;
    stopMonitor(l);
    return rollouts.runStage(name, snap, resume.rollout(), l).map(true);
  }

  private Void begin(String name, Snapshot snap, String to, String trigger) throws Exception {
    Map<String, Object> t = new LinkedHashMap<>();
    t.put("source", snap.source().source());
    t.put("by", trigger == null ? "reconcile" : trigger);
    if (snap.source().effectiveRepoUrl() != null) {
      try {
        t.put("commit", d.repos().commitInfo(snap.source().effectiveRepoUrl(), to));
      } catch (Exception e) {
        // Commit details are informative only.
      }
    }
    long id =
        d.store()
            .createRollout(
                RolloutRecord.create(
                    name,
                    RolloutRecord.KIND_ROLLOUT,
                    snap.row().currentCommit(),
                    to,
                    snap.desired().revision(),
                    snap.desired().generation(),
                    Stage.Preparing.name(),
                    snap.doc().spec().rollback().restoreData(),
                    JSON.writeValueAsString(t)));
    d.store().setRolloutSpec(id, DocumentReader.CANONICAL.writeValueAsString(snap.doc().spec()));
    d.store()
        .addEvent(
            name,
            id,
            "RolloutStarted",
            null,
            "rollout "
                + id
                + " from "
                + StatusBuilder.short7(snap.row().currentCommit())
                + " to "
                + StatusBuilder.short7(to));
    LOG.info(
        "{}: rollout {} to {} ({})", name, id, StatusBuilder.short7(to), snap.desired().revision());
    return null;
  }

  /** Manual rollback (API/CLI): quarantine what runs and deploy a verified commit. */
  public Future<Long> requestRollback(String name, String to, boolean restoreData, String caller) {
    DesiredStateRegistry.Entry entry = d.registry().get(name);
    if (entry == null || !entry.document().valid()) {
      return Future.failedFuture(
          new IllegalStateException("deployment " + name + " has no valid document"));
    }
    return blocking(
            () -> {
              DeploymentRow row =
                  d.store()
                      .deployment(name)
                      .orElseThrow(
                          () ->
                              new IllegalStateException(
                                  "deployment " + name + " has not been deployed"));
              if (d.store().activeRollout(name).isPresent()) {
                throw new IllegalStateException("a rollout of " + name + " is in progress");
              }
              String current = row.currentCommit();
              List<String> verified = d.store().verifiedCommits(name);
              String target = to;
              if (target == null) {
                target =
                    verified.stream()
                        .filter(c -> !c.equals(current))
                        .findFirst()
                        .orElseThrow(
                            () ->
                                new IllegalArgumentException(
                                    "no previously verified commit to roll back to"));
              } else {
                String prefix = target;
                target =
                    verified.stream()
                        .filter(c -> c.startsWith(prefix))
                        .findFirst()
                        .orElseThrow(
                            () ->
                                new IllegalArgumentException(
                                    "'"
                                        + prefix
                                        + "' is not a commit verified healthy here: "
                                        + verified));
              }
              if (target.equals(current)) {
                throw new IllegalArgumentException(
                    StatusBuilder.short7(target) + " is already running");
              }
              if (current != null) {
                d.store()
                    .quarantine(
                        name,
                        current,
                        entry.document().generation(),
                        "ManualRollback: rolled back by " + caller);
              }
              Map<String, Object> t = Map.of("by", "api", "caller", caller);
              long id =
                  d.store()
                      .createRollout(
                          RolloutRecord.create(
                              name,
                              RolloutRecord.KIND_MANUAL_ROLLBACK,
                              current,
                              target,
                              null,
                              entry.document().generation(),
                              Stage.BackingUp.name(),
                              restoreData,
                              JSON.writeValueAsString(t)));
              d.store()
                  .setRolloutSpec(
                      id,
                      DocumentReader.CANONICAL.writeValueAsString(
                          entry.document().document().spec()));
              d.store()
                  .setRolloutOutcome(id, Reason.ManualRollback.name(), "requested by " + caller);
              d.store()
                  .addEvent(
                      name,
                      id,
                      "RollbackRequested",
                      Reason.ManualRollback.name(),
                      "rollback " + id + " to " + StatusBuilder.short7(target) + " by " + caller);
              return id;
            })
        .onSuccess(id -> enqueue(name));
  }

  /** The answer to a reconcile request: the rollout it started or joined, if any. */
  public record ReconcileAnswer(Long rolloutId, String message) {}

  /**
   * Lifts the quarantine and reconciles now (API/CLI {@code reconcile}). When the deployment is
   * idle the plan is made here, so the caller learns whether a rollout started.
   */
  public Future<ReconcileAnswer> requestReconcile(String name, String caller) {
    DesiredStateRegistry.Entry entry = d.registry().get(name);
    LiveState l = live(name);
    l.buildProblem = null;
    l.healNotBefore = null;
    l.healAttempts = 0;
    String trigger = "api:" + caller;
    if (entry != null && l.running) {
      // Busy: a rollout in progress is reported as such; a short reconcile is waited for, so
      // that the answer says what this request does.
      return blocking(() -> d.store().activeRollout(name).orElse(null))
          .compose(
              active -> {
                if (active != null) {
                  return blocking(() -> d.store().clearQuarantine(name))
                      .map(
                          cleared ->
                              new ReconcileAnswer(
                                  active.id(), "rollout " + active.id() + " is in progress"));
                }
                Promise<Void> idle = Promise.promise();
                l.idleWaiters.add(idle);
                return idle.future().compose(v -> requestReconcile(name, caller));
              });
    }
    if (entry == null) {
      return blocking(
              () -> {
                int cleared = d.store().clearQuarantine(name);
                RolloutRecord active = d.store().activeRollout(name).orElse(null);
                return new ReconcileAnswer(
                    active == null ? null : active.id(),
                    active == null
                        ? "reconcile queued" + (cleared > 0 ? "; quarantine lifted" : "")
                        : "rollout " + active.id() + " is in progress");
              })
          .onComplete(ar -> enqueue(name, trigger));
    }
    l.running = true;
    return blocking(
            () -> {
              int cleared = d.store().clearQuarantine(name);
              Snapshot snap = gather(entry, l);
              Step step = Planner.plan(snap.desired(), snap.observed());
              String lifted = cleared > 0 ? "quarantine lifted; " : "";
              if (step instanceof Step.Begin b) {
                begin(name, snap, b.toCommit(), trigger);
                RolloutRecord r = d.store().activeRollout(name).orElseThrow();
                return new ReconcileAnswer(
                    r.id(), lifted + "rollout " + r.id() + " to " + b.toCommit() + " started");
              }
              if (step instanceof Step.Resume res) {
                return new ReconcileAnswer(
                    res.rollout().id(), lifted + "rollout " + res.rollout().id() + " resumed");
              }
              String what =
                  step instanceof Step.Stall st
                      ? "stalled: " + st.problem().message()
                      : step instanceof Step.Hold h
                          ? "holding (" + h.reason() + "): " + h.message()
                          : step instanceof Step.Heal
                              ? "self-heal"
                              : "nothing to do: "
                                  + StatusBuilder.short7(snap.row().currentCommit())
                                  + " is what is desired";
              return new ReconcileAnswer(null, lifted + what);
            })
        .onComplete(
            ar -> {
              l.running = false;
              enqueue(name, trigger);
            });
  }

  /** Suspends or resumes through the API; persisted, so it holds across agent restarts. */
  public Future<Void> setSuspended(String name, boolean suspended, String caller) {
    return blocking(
            () -> {
              if (d.store().deployment(name).isEmpty()) {
                throw new IllegalStateException(
                    "deployment " + name + " has not been reconciled yet");
              }
              d.store().setSuspended(name, suspended);
              d.store().addEvent(name, suspended ? "Suspended" : "Resumed", null, "by " + caller);
              return (Void) null;
            })
        .onSuccess(v -> enqueue(name, "api:" + caller));
  }

  /**
   * What the agent would do now, without doing anything: the commit the revision resolves to,
   * whether it is quarantined or awaits promotion, the steps and the backups it would take.
   */
  public Future<Map<String, Object>> plan(String name) {
    DesiredStateRegistry.Entry entry = d.registry().get(name);
    LiveState l = live(name);
    return blocking(
        () -> {
          Snapshot snap = gather(entry, l, true);
          Step step = Planner.plan(snap.desired(), snap.observed());
          return PlanDescription.describe(snap, step, rollouts.paths(name));
        });
  }

  /** The spec changes and the commit log between what runs and what is desired. */
  public Future<Map<String, Object>> diff(String name) {
    DesiredStateRegistry.Entry entry = d.registry().get(name);
    LiveState l = live(name);
    return blocking(
        () -> {
          Snapshot snap = gather(entry, l, true);
          Map<String, Object> out = new LinkedHashMap<>();
          String current = snap.row().currentCommit();
          String desired = snap.desired().desiredCommit();
          out.put("currentCommit", current);
          out.put("desiredRevision", snap.desired().revision());
          out.put("desiredCommit", desired);
          String runningSpec = null;
          if (current != null) {
            RolloutRecord r = d.store().rolloutThatDeployed(name, current).orElse(null);
            runningSpec = r == null ? null : d.store().rolloutSpec(r.id()).orElse(null);
          }
          String desiredSpec =
              snap.doc() == null || snap.doc().spec() == null
                  ? null
                  : DocumentReader.CANONICAL.writeValueAsString(snap.doc().spec());
          out.put("specChanges", SpecDiff.changes(runningSpec, desiredSpec));
          String url = snap.source().effectiveRepoUrl();
          if (url != null && desired != null && !desired.equals(current)) {
            out.put("commits", d.repos().log(url, current, desired, 100));
            if (current != null) {
              out.put("commitsLeaving", d.repos().log(url, desired, current, 100));
            }
          } else {
            out.put("commits", List.of());
          }
          return out;
        });
  }

  private Future<Void> heal(String name, Snapshot snap, Step.Heal heal, LiveState l) {
    DeploymentSpec spec = snap.doc().spec();
    String commit = snap.row().currentCommit();
    DeploymentPaths paths = rollouts.paths(name);
    l.healAttempts++;
    l.healNotBefore = Instant.now().plusMillis(HEAL_BACKOFF.apply(l.healAttempts));
    LOG.warn("{}: self-heal ({}), attempt {}", name, heal.why(), l.healAttempts);
    boolean all = heal.all();
    l.degraded = false;
    l.failingRounds = 0;
    // Degraded until a monitoring round passes: a restarted service is not healthy yet.
    l.recovering = true;
    return blocking(
        () -> {
          d.store()
              .addEvent(
                  name,
                  "SelfHeal",
                  Reason.Degraded.name(),
                  heal.why() + " (attempt " + l.healAttempts + ")");
          Path release = rollouts.ensureRelease(name, snap.source(), commit, spec);
          Map<String, String> env =
              RolloutExecutor.serviceEnv(
                  name, commit, snap.desired().revision(), rollouts.paths(name));
          if (all) {
            d.runtime().stopAll(name, spec.runtime());
            d.runtime().start(name, commit, release, spec.runtime(), paths.logs(), env);
          } else {
            d.runtime()
                .restart(name, commit, release, spec.runtime(), heal.services(), paths.logs(), env);
          }
          return null;
        });
  }

  // ---------------------------------------------------------------- monitoring

  private void stopMonitor(LiveState l) {
    if (l.monitor != null) {
      if (l.monitor.timerId >= 0) {
        vertx.cancelTimer(l.monitor.timerId);
      }
      l.monitor = null;
    }
  }

  /** After Healthy, checks keep running every interval on what runs (DESIGN.md §2). */
  private void ensureMonitor(String name, Snapshot snap, LiveState l) {
    String current = snap.row().currentCommit();
    if (current == null || !snap.verified().contains(current) || snap.doc() == null) {
      stopMonitor(l);
      return;
    }
    long interval = snap.doc().spec().health().interval().millis();
    String generation = snap.desired().generation();
    if (l.monitor != null
        && current.equals(l.monitor.commit)
        && generation.equals(l.monitor.generation)) {
      return;
    }
    stopMonitor(l);
    LiveState.Monitor m = new LiveState.Monitor();
    m.commit = current;
    m.generation = generation;
    m.intervalMs = interval;
    l.monitor = m;
    blocking(() -> rollouts.buildChecks(name, snap, current, rollouts.paths(name), null, false))
        .onSuccess(
            checks -> {
              if (l.monitor == m) {
                m.checks = checks;
                m.timerId = vertx.setTimer(interval, id -> monitorRound(name, snap, l, m));
              }
            })
        .onFailure(err -> LOG.warn("{}: cannot build checks: {}", name, err.getMessage()));
  }

  private void monitorRound(String name, Snapshot snap, LiveState l, LiveState.Monitor m) {
    if (l.monitor != m || stopped) {
      return;
    }
    if (l.running || m.inFlight) {
      m.timerId = vertx.setTimer(m.intervalMs, id -> monitorRound(name, snap, l, m));
      return;
    }
    m.inFlight = true;
    io.vtrack.agent.check.CheckRound.run(vertx, m.checks)
        .onComplete(
            ar -> {
              m.inFlight = false;
              if (l.monitor != m) {
                return;
              }
              if (ar.succeeded()) {
                var round = ar.result();
                l.checks = round.results();
                round.results().forEach(c -> d.metrics().checkRan(name, c));
                rollouts.emit(
                    RolloutExecutor.event(
                        "round",
                        name,
                        "stage",
                        "Monitoring",
                        "status",
                        round.status().name(),
                        "checks",
                        round.results()));
                int threshold = snap.doc().spec().health().failureThreshold();
                boolean wasDegraded = l.degraded;
                boolean wasRecovering = l.recovering;
                if (round.passing()) {
                  l.failingRounds = 0;
                  l.degraded = false;
                  l.recovering = false;
                  if (l.healNotBefore != null && Instant.now().isAfter(l.healNotBefore)) {
                    l.healAttempts = 0;
                    l.healNotBefore = null;
                  }
                } else {
                  l.failingRounds++;
                  if (l.failingRounds >= threshold) {
                    l.degraded = true;
                  }
                }
                if (wasRecovering && !l.recovering) {
                  publish(name);
                } else if (l.degraded != wasDegraded) {
                  String msg =
                      l.degraded
                          ? "checks failed "
                              + l.failingRounds
                              + " rounds in a row: "
                              + round.failures()
                          : "checks pass again";
                  LOG.warn("{}: {}", name, msg);
                  blocking(
                      () -> {
                        d.store().addEvent(name, l.degraded ? "Degraded" : "Recovered", null, msg);
                        return null;
                      });
                  enqueue(name);
                } else {
                  refreshChecks(name, l);
                }
              }
              m.timerId = vertx.setTimer(m.intervalMs, id -> monitorRound(name, snap, l, m));
            });
  }

  // ---------------------------------------------------------------- status

  /** Recomputes and stores the status of {@code name}. */
  public Future<Void> publish(String name) {
    DesiredStateRegistry.Entry entry = d.registry().get(name);
    if (entry == null) {
      return Future.succeededFuture();
    }
    LiveState l = live(name);
    return blocking(
            () -> {
              Snapshot snap = gather(entry, l);
              List<String> warnings = new ArrayList<>();
              RolloutRecord active = snap.observed().active();
              if (snap.doc() != null && snap.row().currentCommit() != null) {
                warnings.addAll(shadowWarnings(name, snap));
              }
              StatusBuilder.Inputs in =
                  new StatusBuilder.Inputs(
                      snap.desired(),
                      generationOf(snap),
                      active,
                      snap.lastRollout(),
                      snap.row().currentCommit(),
                      snap.row().lastHealthyCommit(),
                      snap.verified(),
                      snap.quarantined(),
                      snap.quarantineReason(),
                      l.checks,
                      snap.observed().deadServices(),
                      l.degraded || l.recovering,
                      l.hold,
                      warnings,
                      l.status,
                      Instant.now());
              l.lastInputs = in;
              DeploymentStatus st = StatusBuilder.build(in);
              d.store().setStatusJson(name, JSON.writeValueAsString(st));
              return st;
            })
        .map(
            st -> {
              announce(name, l, st);
              return (Void) null;
            });
  }

  /**
   * Recomputes the status after a monitoring round from what the last full read saw plus the new
   * check results: no git or database reads on this path, and a store write only on a transition.
   */
  private void refreshChecks(String name, LiveState l) {
    StatusBuilder.Inputs last = l.lastInputs;
    if (last == null) {
      publish(name);
      return;
    }
    StatusBuilder.Inputs in =
        new StatusBuilder.Inputs(
            last.desired(),
            last.observedGeneration(),
            last.active(),
            last.lastRollout(),
            last.currentCommit(),
            last.lastHealthyCommit(),
            last.verifiedCommits(),
            last.quarantinedCommits(),
            last.quarantineReason(),
            l.checks,
            last.deadServices(),
            l.degraded || l.recovering,
            l.hold,
            last.warnings(),
            l.status,
            Instant.now());
    DeploymentStatus st = StatusBuilder.build(in);
    DeploymentStatus prev = l.status;
    boolean transition =
        prev == null
            || prev.phase() != st.phase()
            || !prev.conditions().stream()
                .map(c -> c.type() + c.status() + c.reason())
                .toList()
                .equals(
                    st.conditions().stream().map(c -> c.type() + c.status() + c.reason()).toList());
    announce(name, l, st);
    if (transition) {
      blocking(
          () -> {
            d.store().setStatusJson(name, JSON.writeValueAsString(st));
            return null;
          });
    }
  }

  private void announce(String name, LiveState l, DeploymentStatus st) {
    DeploymentStatus prev = l.status;
    rollouts.emit(
        RolloutExecutor.event(
            "status",
            name,
            "phase",
            st.phase().name(),
            "message",
            st.message(),
            "desiredCommit",
            st.desiredCommit(),
            "currentCommit",
            st.currentCommit(),
            "lastRollout",
            st.lastRollout()));
    l.status = st;
    published.put(name, st);
    if (prev == null || prev.phase() != st.phase()) {
      LOG.info("{}: phase {} — {}", name, st.phase(), st.message());
    }
    DesiredStateRegistry.Entry entry = d.registry().get(name);
    if (prev != null
        && prev.phase() != st.phase()
        && entry != null
        && entry.document().valid()
        && d.notifier() != null) {
      d.notifier()
          .transition(name, prev.phase(), st, entry.document().document().spec().notifications());
    }
    for (Consumer<String> listener : listeners) {
      listener.accept(name);
    }
  }

  private static Long generationOf(Snapshot snap) {
    if (snap.doc() != null
        && snap.doc().metadata() != null
        && snap.doc().metadata().generation() != null) {
      return snap.doc().metadata().generation();
    }
    return snap.row().generationSeq() == 0 ? null : snap.row().generationSeq();
  }

  private List<String> shadowWarnings(String name, Snapshot snap) {
    List<String> out = new ArrayList<>();
    try {
      Path release = rollouts.paths(name).release(snap.row().currentCommit());
      List<String> shared = snap.doc().spec().runtime().sharedPaths();
      if (shared.isEmpty() || snap.source().effectiveRepoUrl() == null) {
        return out;
      }
      // A shared path that git also tracks is shadowed by shared/: warn, as DESIGN.md §2 says.
      Map<String, ?> files =
          trackedCache.computeIfAbsent(
              snap.row().currentCommit(),
              c -> {
                try {
                  return d.repos()
                      .readFiles(
                          snap.source().effectiveRepoUrl(), c, snap.doc().spec().source().path());
                } catch (Exception e) {
                  return Map.of();
                }
              });
      String prefix = normalizedPrefix(snap.doc().spec().source().path());
      for (String sp : shared) {
        String rel = sp.endsWith("/") ? sp.substring(0, sp.length() - 1) : sp;
        for (String f : files.keySet()) {
          String inApp =
              prefix.isEmpty()
                  ? f
                  : f.startsWith(prefix + "/") ? f.substring(prefix.length() + 1) : null;
          if (inApp != null && (inApp.equals(rel) || inApp.startsWith(rel + "/"))) {
            out.add("SharedPathShadowsTrackedFile: " + sp);
            break;
          }
        }
      }
      if (!Files.isDirectory(release)) {
        out.add("ReleaseMissing: " + release);
      }
    } catch (Exception e) {
      LOG.debug("{}: warnings: {}", name, e.getMessage());
    }
    return out;
  }

  private final Map<String, Map<String, ?>> trackedCache = new ConcurrentHashMap<>();

  private static String normalizedPrefix(String path) {
    String p = path == null ? "" : path.trim();
    while (p.startsWith("./")) {
      p = p.substring(2);
    }
    if (p.equals(".")) {
      return "";
    }
    while (p.endsWith("/")) {
      p = p.substring(0, p.length() - 1);
    }
    return p;
  }

  // ---------------------------------------------------------------- deletion

  /** A document disappeared from every source: apply its {@code deletionPolicy}. */
  private Future<Void> removed(String name) {
    LiveState l = live.remove(name);
    if (l != null) {
      stopMonitor(l);
      if (l.healTimer != null) {
        vertx.cancelTimer(l.healTimer);
      }
    }
    published.remove(name);
    if (d.registry().heldElsewhere(name)) {
      // Another agent holds its Lease: it acts on what runs now; this one only lets go.
      LOG.info("{}: held by another agent now; leaving what runs to it", name);
      listeners.forEach(x -> x.accept(name));
      return Future.succeededFuture();
    }
    return blocking(
            () -> {
              StateStore.DeploymentRow row = d.store().deployment(name).orElse(null);
              if (row == null) {
                return null;
              }
              String policy = "Stop";
              RuntimeSpec runtime = null;
              if (row.specJson() != null) {
                DeploymentSpec spec =
                    DocumentReader.CANONICAL.readValue(row.specJson(), DeploymentSpec.class);
                policy = spec.deletionPolicy().name();
                runtime = spec.runtime();
              }
              if ("Stop".equals(policy)) {
                d.runtime().stopAll(name, runtime);
                LOG.info("{}: document removed: services stopped, data and backups kept", name);
              } else {
                LOG.info("{}: document removed: left running (deletionPolicy Retain)", name);
              }
              d.store()
                  .addEvent(
                      name,
                      "Deleted",
                      policy,
                      "document removed from its source; deletionPolicy " + policy);
              d.store().deleteDeployment(name);
              return null;
            })
        .onComplete(ar -> listeners.forEach(x -> x.accept(name)))
        .mapEmpty();
  }
}
