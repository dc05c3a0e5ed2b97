package io.vtrack.agent.reconcile;

import io.vtrack.agent.model.Reason;
import io.vtrack.agent.model.Stage;
import io.vtrack.agent.store.RolloutRecord;
import java.util.Objects;

/**
 * Decides the next step from the whole desired and observed state. Pure: no I/O, no clock (the time
 * comes in {@link Observed#now()}), so it is tested from fixtures.
 */
public final class Planner {
  private Planner() {}

  public static Step plan(Desired d, Observed o) {
    if (d.blocker() != null) {
      return new Step.Stall(d.blocker());
    }
    if (d.suspended()) {
      return new Step.Hold(
          Reason.Suspended,
          "suspended (spec.suspend or vtrack suspend): observing only, nothing is changed");
    }
    if (o.active() != null) {
      return superseded(d, o)
          ? new Step.Supersede(o.active(), d.desiredCommit(), o.retrying())
          : new Step.Resume(o.active());
    }
    if (d.desiredCommit() == null) {
      Desired.Problem p = d.resolutionProblem();
      return healOr(
          o,
          new Step.Hold(
              p == null ? Reason.SourceUnavailable : p.reason(),
              p == null ? "revision not resolved yet" : p.message()));
    }
    if (d.desiredCommit().equals(o.currentCommit()) && !o.specChanged()) {
      return healOr(o, new Step.Idle());
    }
    if (o.quarantined().contains(d.desiredCommit())) {
      return healOr(o, new Step.Idle());
    }
    if (!d.promotionSatisfied()) {
      return healOr(
          o,
          new Step.Hold(
              Reason.AwaitingPromotion,
              "waiting for another deployment to verify " + d.desiredCommit()));
    }
    return new Step.Begin(d.desiredCommit());
  }

  /**
   * Whether the active rollout gives way to what the documents ask for now: it is retrying a
   * failure of the host (it could wait for it forever) in a stage before anything that runs was
   * touched, and another commit or another document is wanted. A rollout that is making progress
   * finishes first.
   */
  private static boolean superseded(Desired d, Observed o) {
    RolloutRecord a = o.active();
    boolean untouched =
        a.stage() == Stage.Preparing
            || a.stage() == Stage.Validating
            || a.stage() == Stage.BackingUp;
    return o.retrying() != null
        && untouched
        && !a.manual()
        && d.desiredCommit() != null
        && (!d.desiredCommit().equals(a.toCommit())
            || !Objects.equals(d.generation(), a.generation()));
  }

  /** Self-heal what runs when it needs it, else {@code otherwise}. */
  private static Step healOr(Observed o, Step otherwise) {
    if (o.currentCommit() == null) {
      return otherwise;
    }
    boolean dead = !o.deadServices().isEmpty();
    if (!dead && !o.degraded()) {
      return o.routesDrift() != null ? new Step.Reroute(o.routesDrift()) : otherwise;
    }
    if (o.healNotBefore() != null && o.now().isBefore(o.healNotBefore())) {
      return new Step.HealLater(o.healNotBefore());
    }
    if (o.degraded()) {
      return new Step.Heal(o.deadServices(), true, "health checks failing");
    }
    return new Step.Heal(
        o.deadServices(), false, "services exited: " + String.join(", ", o.deadServices()));
  }
}
