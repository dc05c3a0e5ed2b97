package io.vtrack.agent.reconcile;

import io.vtrack.agent.model.Reason;
import java.time.Instant;

/**
 * Why a reconcile or a rollout stage could not go on, typed so that one place ({@link
 * ErrorMapping}) decides what it means: a condition, a requeue, and whether the commit is to blame.
 * Only a {@link CommitFailure} ever quarantines a commit.
 */
public sealed interface ReconcileError {
  Reason reason();

  String message();

  /** The document cannot be acted on until the user changes it. Nothing runs differently. */
  record Stalled(Reason reason, String message) implements ReconcileError {}

  /** Waiting for something outside (promotion, a lease); looked at again later. */
  record Waiting(Reason reason, String message) implements ReconcileError {}

  /**
   * The agent's world failed, not the commit: an engine away, a full disk, a repository that does
   * not answer, the state store. Retried with capped backoff; what runs is untouched.
   */
  record Transient(Reason reason, String message, int attempt, Instant retryAt)
      implements ReconcileError {
    public Transient(Reason reason, String message) {
      this(reason, message, 0, null);
    }

    /** As failed in attempt {@code attempt} in a row, the next due at {@code at}. */
    Transient attempted(int attempt, Instant at) {
      return new Transient(reason, message, attempt, at);
    }
  }

  /** The revision itself failed (prepare, validate, start, verification): it is quarantined. */
  record CommitFailure(Reason reason, String message) implements ReconcileError {}

  /** An error as an exception, for code that returns futures or throws. */
  final class Failed extends Exception {
    private final ReconcileError error;

    public Failed(ReconcileError error) {
      super(error.message(), null, false, false);
      this.error = error;
    }

    public ReconcileError error() {
      return error;
    }
  }
}
