package io.vtrack.agent.reconcile;

import io.vtrack.agent.model.Reason;
import io.vtrack.agent.store.RolloutRecord;
import java.time.Instant;
import java.util.List;

/** The next thing a reconcile does, decided by {@link Planner}. */
public sealed interface Step {
  /** The document cannot be acted on; nothing changes. */
  record Stall(Desired.Problem problem) implements Step {}

  /** Nothing to do now, for a reason worth reporting (suspended, source problems, promotion). */
  record Hold(Reason reason, String message) implements Step {}

  /** Continue the rollout in progress at its persisted stage. */
  record Resume(RolloutRecord rollout) implements Step {}

  /**
   * The rollout in progress is retrying a failure of the host before it touched anything that runs
   * (a registry away, a full disk), and the documents now ask for another commit or spec: it ends
   * {@code Failed} without blaming its commit, and the next plan begins what is asked for.
   */
  record Supersede(RolloutRecord rollout, String desiredCommit, ReconcileError.Transient retrying)
      implements Step {}

  /** Start a rollout to {@code toCommit}. */
  record Begin(String toCommit) implements Step {}

  /** Restart services of the current commit (all of them when {@code all}). */
  record Heal(List<String> services, boolean all, String why) implements Step {}

  /**
   * The live instance runs, but the switch proxy's routes for it are not what the store says: write
   * them again ({@code why} says what was found).
   */
  record Reroute(String why) implements Step {}

  /** A restart is due but backing off until {@code at}. */
  record HealLater(Instant at) implements Step {}

  /** Everything matches. */
  record Idle() implements Step {}
}
