package io.vtrack.agent.reconcile;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vtrack.agent.model.Reason;
import java.util.function.Consumer;

/**
 * Does the step the {@link Planner} chose for one deployment: holds and idles keep the health
 * monitor as the step wants it; self-heal steps go to {@link SelfHeal}; a rollout is begun ({@link
 * DeploymentCommands}), resumed or given up ({@link RolloutExecutor}). Confined to the agent's
 * context, like the {@link Reconciler} that calls it; blocking work runs on workers.
 */
final class StepRunner {
  private final Vertx vertx;
  private final HealthMonitor monitor;
  private final SelfHeal selfHeal;
  private final DeploymentCommands commands;
  private final RolloutExecutor executor;
  private final Consumer<String> enqueue;

  /**
   * @param enqueue says "this deployment may need work"
   */
  StepRunner(
      Vertx vertx,
      HealthMonitor monitor,
      SelfHeal selfHeal,
      DeploymentCommands commands,
      RolloutExecutor executor,
      Consumer<String> enqueue) {
    this.vertx = vertx;
    this.monitor = monitor;
    this.selfHeal = selfHeal;
    this.commands = commands;
    this.executor = executor;
    this.enqueue = enqueue;
  }

  /** Does {@code step}; the future says when the deployment is to be looked at again. */
  Future<ReconcileQueue.Next> act(String name, Snapshot snap, Step step, DeploymentState s) {
    s.hold = null;
    if (step instanceof Step.Stall) {
      monitor.stop(name);
      return done();
    }
    if (step instanceof Step.Hold h) {
      s.hold = h.reason();
      if (h.reason() == Reason.Suspended) {
        monitor.stop(name);
      } else {
        monitor.ensure(name, snap);
      }
      return done();
    }
    if (step instanceof Step.Idle) {
      monitor.ensure(name, snap);
      return done();
    }
    if (step instanceof Step.HealLater later) {
      // A heal ends at the first passing round: the checks run meanwhile. An agent that has just
      // started and found its services dead has no monitor yet, and would heal again forever.
      monitor.ensure(name, snap);
      selfHeal.later(name, later.at(), s, enqueue);
      return done();
    }
    if (step instanceof Step.Reroute reroute) {
      return selfHeal
          .reroute(name, snap, reroute.why())
          .compose(
              written -> {
                if (!written) {
                  monitor.ensure(name, snap);
                  return done();
                }
                return Future.succeededFuture(new ReconcileQueue.Next.Again());
              });
    }
    if (step instanceof Step.Heal heal) {
      monitor.ensure(name, snap);
      return selfHeal.heal(snap, heal, s).map(x -> new ReconcileQueue.Next.Done());
    }
    monitor.stop(name);
    if (step instanceof Step.Begin begin) {
      s.recovering = false;
      String trigger = s.trigger;
      s.trigger = null;
      return vertx
          .executeBlocking(() -> commands.begin(snap, begin.toCommit(), trigger), false)
          .map(id -> new ReconcileQueue.Next.Again());
    }
    if (step instanceof Step.Supersede sup) {
      return executor
          .supersede(snap, sup.rollout(), sup.desiredCommit(), sup.retrying())
          .map(
              outcome -> {
                s.succeeded();
                return new ReconcileQueue.Next.Again();
              });
    }
    Step.Resume resume = (Step.Resume) step;
    return executor
        .run(snap, resume.rollout())
        .map(
            outcome -> {
              // The stage went through: a failure that made it retry (a registry away, a proxy
              // that could not listen yet) is over, the status published next must not repeat it,
              // and the rollout, making progress again, is not given up for a newer commit.
              s.succeeded();
              if (outcome instanceof RolloutExecutor.Outcome.Verified) {
                s.clearHeal();
              } else if (outcome instanceof RolloutExecutor.Outcome.Stalled st) {
                s.stalled(st.problem(), st.generation(), st.commit());
              }
              return new ReconcileQueue.Next.Again();
            });
  }

  static Future<ReconcileQueue.Next> done() {
    return Future.succeededFuture(new ReconcileQueue.Next.Done());
  }
}
