package io.vtrack.agent.reconcile;

import io.vtrack.agent.model.Reason;

/**
 * What the documents ask for, as far as the planner needs it.
 *
 * @param blocker why the document cannot be acted on (Stalled), or null
 * @param desiredCommit what the revision resolves to now, or null when it cannot be resolved
 * @param resolutionProblem SourceUnavailable or RevisionNotFound when unresolved, else null
 * @param promotionSatisfied false while {@code promotion.requireHealthyIn} has not verified the
 *     commit
 */
public record Desired(
    String name,
    Problem blocker,
    boolean suspended,
    String generation,
    String revision,
    String desiredCommit,
    Problem resolutionProblem,
    boolean promotionSatisfied,
    boolean automaticRollback) {

  /** A reason and a message a person can act on. */
  public record Problem(Reason reason, String message) {}
}
