package io.vtrack.agent.reconcile;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vtrack.agent.LogSetup;
import io.vtrack.agent.backup.BackupManager;
import io.vtrack.agent.check.CheckFactory;
import io.vtrack.agent.metrics.AgentMetrics;
import io.vtrack.agent.model.RuntimeSpec;
import io.vtrack.agent.notify.Notifier;
import io.vtrack.agent.proxy.ProxySupervisor;
import io.vtrack.agent.release.GitRepositories;
import io.vtrack.agent.release.ReleaseBuilder;
import io.vtrack.agent.runtime.CommandPolicy;
import io.vtrack.agent.runtime.Runtimes;
import io.vtrack.agent.source.DesiredDocument;
import io.vtrack.agent.source.DesiredStateRegistry;
import io.vtrack.agent.store.StateStore;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.event.Level;

/**
 * The per-deployment reconcile (DESIGN.md §5). Every input only enqueues a name on the {@link
 * ReconcileQueue}; each reconcile reads the whole desired and observed state ({@link StateReader}),
 * asks the pure {@link Planner} for the next step, runs it ({@link StepRunner}), and publishes the
 * status ({@link StatusPublisher}). Confined to the agent's context, which owns every {@link
 * DeploymentState}; blocking work runs on workers and hands back immutable records.
 */
public final class Reconciler {
  private static final Logger LOG = LoggerFactory.getLogger(Reconciler.class);

  /** What the reconciler is wired to. */
  public record Wiring(
      Vertx vertx,
      StateStore store,
      DesiredStateRegistry registry,
      GitRepositories repos,
      ReleaseBuilder releases,
      Runtimes runtime,
      BackupManager backups,
      CheckFactory checks,
      AgentMetrics metrics,
      Notifier notifier,
      Path stateDir,
      CommandPolicy commandPolicy,
      int keepRollouts,
      ProxySupervisor proxy) {}

  private final Wiring w;
  private final Vertx vertx;
  private final ReconcileQueue queue;
  private final Map<String, DeploymentState> states = new HashMap<>();
  private final StateReader reader;
  private final RolloutExecutor executor;
  private final VerifyStage verify;
  private final HealthMonitor monitor;
  private final StatusPublisher publisher;
  private final Removals removals;

  private final SelfHeal selfHeal;
  private final StatusRefresh refresh;
  private final DocumentRecorder recorder;
  private final DeploymentCommands commands;
  private final PlanAndDiff planAndDiff;
  private final BlueGreenSteps blueGreen;
  private final WarmInstances warm;
  private final StepRunner steps;
  private boolean stopped;

  public Reconciler(Wiring wiring) {
    this.w = wiring;
    this.vertx = wiring.vertx();
    EventStream events = new EventStream(vertx);
    this.queue = new ReconcileQueue(vertx, this::reconcile);
    AdmissionPolicy admission =
        new AdmissionPolicy(wiring.runtime(), wiring.commandPolicy(), wiring.stateDir());
    this.reader =
        new StateReader(
            wiring.store(), wiring.repos(), wiring.runtime(), admission, wiring.stateDir());
    RolloutParts parts = new RolloutParts(wiring, events, this::verificationRound);
    this.executor = parts.executor();
    this.verify = parts.verify();
    CheckBuilder checkBuilder = parts.checkBuilder();
    RolloutTransitions transitions = parts.transitions();
    this.blueGreen = parts.blueGreen();
    this.publisher = new StatusPublisher(vertx, wiring.store(), wiring.notifier(), events);
    this.monitor =
        new HealthMonitor(
            vertx,
            checkBuilder,
            wiring.stateDir(),
            queue::busy,
            this::state,
            publisher,
            wiring.store(),
            wiring.metrics(),
            this::enqueue);
    this.removals =
        new Removals(
            vertx,
            wiring.registry(),
            publisher,
            new DeletionHandler(wiring.store(), wiring.runtime(), blueGreen));
    this.warm = new WarmInstances(vertx, wiring.store(), blueGreen, this::enqueue);
    this.selfHeal =
        new SelfHeal(
            vertx,
            wiring.store(),
            wiring.runtime(),
            wiring.releases(),
            wiring.stateDir(),
            blueGreen.proxyRoutes());
    this.refresh =
        new StatusRefresh(
            vertx,
            wiring.stateDir(),
            reader,
            new ShadowWarnings(wiring.repos()),
            wiring.proxy(),
            publisher);
    this.recorder = new DocumentRecorder(wiring.store(), wiring.repos(), wiring.runtime());
    this.commands =
        new DeploymentCommands(
            vertx,
            wiring.store(),
            wiring.registry(),
            wiring.repos(),
            queue,
            reader,
            transitions,
            this::state,
            executor::stop,
            this::publishNow,
            wiring.stateDir());
    this.planAndDiff =
        new PlanAndDiff(
            vertx,
            wiring.store(),
            wiring.registry(),
            wiring.repos(),
            reader,
            this::state,
            wiring.stateDir());
    this.steps = new StepRunner(vertx, monitor, selfHeal, commands, executor, this::enqueue);
    wiring.metrics().queueDepth(queue::depth);
  }

  /** Called with a deployment's name whenever its status was recomputed. */
  public void onStatus(Consumer<String> listener) {
    publisher.onStatus(listener);
  }

  /** Reads the status of {@code name} afresh and publishes it; nothing when it has no document. */
  private Future<Void> publishNow(String name) {
    DesiredStateRegistry.Entry entry = w.registry().get(name);
    return entry == null
        ? Future.succeededFuture()
        : refresh.readAndPublish(name, entry, state(name));
  }

  /** The last published status, or null. Safe from any thread. */
  public DeploymentStatus status(String name) {
    return publisher.status(name);
  }

  /** The API's commands, each run inside the deployment's slot. */
  public DeploymentCommands commands() {
    return commands;
  }

  /** What the agent would do now, and what differs from what runs; read-only. */
  public PlanAndDiff planAndDiff() {
    return planAndDiff;
  }

  DeploymentState state(String name) {
    return states.computeIfAbsent(name, n -> new DeploymentState());
  }

  /** Says "deployment {@code name} may need work"; must be called on the agent's context. */
  public void enqueue(String name) {
    enqueue(name, null);
  }

  /** As {@link #enqueue(String)}, noting what triggered it for the rollout record. */
  public void enqueue(String name, String trigger) {
    if (stopped) {
      return;
    }
    if (trigger != null) {
      DeploymentState s = state(name);
      s.trigger = trigger;
      // Something changed (a document, a repository, a restart): looked at now, even while a
      // failure backs off, so that a rollout retrying it can give way to what is asked for now.
      s.retryNotBefore = null;
    }
    queue.enqueue(name);
  }

  /**
   * The runtime saw something happen to a service of {@code name} (an exit, an engine event): a
   * verification in progress ends now if a service of its revision exited, and a reconcile follows.
   */
  public void servicesChanged(String name) {
    if (stopped) {
      return;
    }
    verify.servicesChanged(name);
    enqueue(name);
  }

  /**
   * The Docker engine's event stream (re)connected: every compose deployment heals and retries now
   * if it needs to, instead of waiting out a backoff that grew while the engine was away.
   */
  public void engineReconnected() {
    for (String name : w.registry().names()) {
      DesiredDocument d = w.registry().get(name).document();
      boolean compose =
          d.valid() && d.document().spec().runtime().type() == RuntimeSpec.RuntimeType.compose;
      if (compose) {
        DeploymentState s = state(name);
        s.healAttempts = 0;
        s.healNotBefore = null;
        s.retryNotBefore = null;
      }
      enqueue(name, compose ? "docker-reconnect" : null);
    }
  }

  /**
   * Starts no more work. The returned future completes when the deletion policies being applied
   * have finished (an API client already told the deployment is gone must not find half of it
   * running, or a proxy left holding its addresses) or after {@code max}; the rest of a rollout is
   * taken up again by the next start.
   */
  public Future<Void> stop(Duration max) {
    stop();
    return removals.settled(max);
  }

  public void stop() {
    stopped = true;
    queue.stop();
    monitor.stopAll();
    warm.stop();
    verify.stop();
    for (DeploymentState s : states.values()) {
      if (s.healTimer != null) {
        vertx.cancelTimer(s.healTimer);
      }
    }
  }

  private <T> Future<T> blocking(Callable<T> work) {
    return vertx.executeBlocking(work, false);
  }

  // ---------------------------------------------------------------- one reconcile

  private Future<ReconcileQueue.Next> reconcile(String name) {
    DesiredStateRegistry.Entry entry = w.registry().get(name);
    if (entry == null) {
      return removed(name);
    }
    DeploymentState s = state(name);
    Instant now = Instant.now();
    if (s.retryNotBefore != null && now.isBefore(s.retryNotBefore)) {
      return Future.succeededFuture(
          new ReconcileQueue.Next.After(Duration.between(now, s.retryNotBefore).toMillis()));
    }
    s.sharedClaims = ExclusiveClaims.sharedWith(name, w.registry());
    StateReader.LoopView view = StateReader.LoopView.of(s);
    // The status of what the last step did is published from this read, not from one of its own.
    boolean publishFirst = s.unpublishedSteps > 0;
    long ticket = StatusRefresh.ticket(s);
    return blocking(
            () -> {
              recorder.record(entry);
              Snapshot snap = reader.read(entry, view);
              return publishFirst
                  ? refresh.of(name, snap, ticket)
                  : new StatusRefresh.Fresh(snap, null, null, ticket);
            })
        .compose(
            f -> {
              Snapshot snap = f.snap();
              if (publishFirst) {
                s.unpublishedSteps = 0;
                refresh.publish(name, f, s, entry);
              }
              Step step = Planner.plan(snap.desired(), snap.observed());
              LOG.debug("{}: {}", name, step);
              boolean steady = !(step instanceof Step.Begin || step instanceof Step.Resume);
              Future<ReconcileQueue.Next> acted = steps.act(name, snap, step, s);
              if (step instanceof Step.Heal) {
                // A restart can take a whole stop timeout: the status says Degraded, self-heal in
                // progress, from its start, not once it is over.
                refresh.readAndPublish(name, entry, s);
              }
              return acted.compose(
                  next ->
                      steady
                          ? warm.retireDue(name, snap)
                              .map(retired -> retired ? new ReconcileQueue.Next.Again() : next)
                          : Future.succeededFuture(next));
            })
        .transform(ar -> settle(name, entry, s, ar.succeeded() ? ar.result() : null, ar.cause()));
  }

  /**
   * After a reconcile: a failure is classified once ({@link ErrorMapping}), logged once per cause,
   * kept for the status and retried with backoff; then the status is read afresh and published.
   */
  private Future<ReconcileQueue.Next> settle(
      String name,
      DesiredStateRegistry.Entry entry,
      DeploymentState s,
      ReconcileQueue.Next next,
      Throwable failure) {
    ReconcileQueue.Next result = next == null ? new ReconcileQueue.Next.Done() : next;
    if (failure != null && stopped) {
      // The agent stopped under it (its store closed): nothing to retry here, it goes on from the
      // store at the next start.
      LOG.info("{}: stopped in the middle of a reconcile; it goes on at the next start", name);
      return StepRunner.done();
    }
    if (failure != null) {
      ReconcileError e = ErrorMapping.classify(failure);
      long wait = s.failed(new ReconcileError.Transient(e.reason(), e.message()), Instant.now());
      if (s.lastLogged == null) {
        LogSetup.about(LOG, Level.WARN, name, null, null)
            .log("{}: reconcile failed, retrying with backoff: {}", name, e.message());
        s.lastLogged = e.message();
      }
      result = new ReconcileQueue.Next.After(wait);
    } else if (!(next instanceof ReconcileQueue.Next.Again)) {
      s.succeeded();
    } else if (s.unpublishedSteps < MAX_UNPUBLISHED_STEPS) {
      // The loop reads again at once: that read is published (one read per step, not two).
      s.unpublishedSteps++;
      return Future.succeededFuture(result);
    }
    s.unpublishedSteps = 0;
    ReconcileQueue.Next decided = result;
    return refresh.readAndPublish(name, entry, s).map(v -> decided).otherwise(decided);
  }

  /**
   * Steps in a row whose status waits for the next reconcile's read; fewer than the queue's own
   * limit of reconciles in a row, so that the last one is always published.
   */
  private static final int MAX_UNPUBLISHED_STEPS = ReconcileQueue.MAX_AGAIN / 2;

  /**
   * At startup, a deployment whose source answered without it: registered as leaving and shown with
   * the status the store kept, as deleting, until its deletion policy has run (it is enqueued
   * next).
   */
  public void leaving(DesiredDocument gone, String storedStatusJson) {
    removals.leaving(gone, storedStatusJson);
  }

  /** A document gone from every source: its state here forgotten, then its deletion policy. */
  private Future<ReconcileQueue.Next> removed(String name) {
    monitor.stop(name);
    DeploymentState s = states.remove(name);
    if (s != null && s.healTimer != null) {
      vertx.cancelTimer(s.healTimer);
    }
    return removals.removed(name).map(v -> new ReconcileQueue.Next.Done());
  }

  // ---------------------------------------------------------------- check rounds

  private void verificationRound(String name, List<io.vtrack.agent.check.CheckResult> results) {
    DeploymentState s = state(name);
    s.checks = results;
    publisher.refresh(name, s, StatusRefresh.notifications(w.registry().get(name)));
  }
}
