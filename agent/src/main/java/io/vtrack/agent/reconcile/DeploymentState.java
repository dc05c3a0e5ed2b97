package io.vtrack.agent.reconcile;

import io.vtrack.agent.check.CheckResult;
import io.vtrack.agent.model.Reason;
import java.time.Instant;
import java.util.List;

/**
 * What the agent keeps in memory about one deployment between reconciles. Owned by the {@link
 * Reconciler} and touched only on the agent's context; worker threads never see it (they get and
 * return immutable records).
 */
final class DeploymentState {
  /** What triggered the next rollout, for its record. */
  String trigger;

  /** Why the last plan held (suspended, a source problem, promotion), or null. */
  Reason hold;

  /** The latest check results: of the rollout's verification, or of the health monitor. */
  List<CheckResult> checks = List.of();

  /** The health monitor's view of what runs. */
  int failingRounds;

  boolean degraded;

  /** Restarted by self-heal and not yet seen passing: reported Degraded, not re-healed. */
  boolean recovering;

  int healAttempts;
  Instant healNotBefore;

  /**
   * When the last self-heal's restart ended (System.nanoTime), until a monitoring round that
   * started after it has been judged; 0: no verdict awaited. Another heal waits for that verdict: a
   * heal slower than its backoff (a compose stop waits out each grace period) would otherwise be
   * followed by the next one before any round could look, restarting everything again and again.
   */
  long healVerdictAfterNanos;

  Long healTimer;

  /** A problem of the release the document describes (a shared file missing), per generation. */
  ReconcileError.Stalled buildProblem;

  String buildProblemGeneration;

  /** The commit whose release had {@link #buildProblem}: another one is tried. */
  String buildProblemCommit;

  /** A rollout found that the document cannot be acted on for {@code commit} as it is. */
  void stalled(ReconcileError.Stalled problem, String generation, String commit) {
    buildProblem = problem;
    buildProblemGeneration = generation;
    buildProblemCommit = commit;
  }

  /** What its document claims that other documents claim too (last read): addresses, projects. */
  java.util.List<ExclusiveClaims.Shared> sharedClaims = java.util.List.of();

  /** The last transient failure, shown in status until a reconcile succeeds. */
  ReconcileError.Transient transientError;

  int transientAttempts;
  Instant retryNotBefore;

  /** The last failure logged, so that the same one is logged once. */
  String lastLogged;

  DeploymentStatus status;
  StatusBuilder.Inputs lastInputs;

  /** The status last stored, without its check results; null until stored. */
  DeploymentStatus storedStatus;

  /** Steps done since the status was last published (the next reconcile's read publishes it). */
  int unpublishedSteps;

  /** Full reads begun, and the ticket of the newest published ({@link StatusRefresh#ticket}). */
  long readsBegun;

  long newestPublishedRead;

  /**
   * A reconcile failed for a reason of the agent's world: kept for the status, retried after a
   * capped, jittered backoff. Returns the wait; a new cause is logged once (lastLogged cleared).
   */
  long failed(ReconcileError.Transient error, Instant now) {
    if (transientError == null || !error.message().equals(transientError.message())) {
      lastLogged = null;
    }
    transientAttempts++;
    long wait = ErrorMapping.backoffMillis(transientAttempts);
    retryNotBefore = now.plusMillis(wait);
    transientError = error.attempted(transientAttempts, retryNotBefore);
    return wait;
  }

  /** A reconcile went through: whatever failed before is over. */
  void succeeded() {
    transientError = null;
    transientAttempts = 0;
    retryNotBefore = null;
    lastLogged = null;
  }

  void clearHeal() {
    healAttempts = 0;
    healNotBefore = null;
    healVerdictAfterNanos = 0;
    degraded = false;
    recovering = false;
    failingRounds = 0;
  }
}
