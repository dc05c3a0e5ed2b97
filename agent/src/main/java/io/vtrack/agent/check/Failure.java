package io.vtrack.agent.check;

/**
 * Why a check failed, for fail-fast verification (DESIGN.md §2, check semantics): nothing answered
 * yet, or the target answered and the answer is wrong. Only wrong answers fail a rollout before
 * {@code startupTimeout}; a revision that is merely not ready is waited for.
 */
public enum Failure {
  /** Nothing answered yet: refused, reset, a 502/503/504 before a first pass, no database yet. */
  NotReady,
  /** The target answered and the answer is wrong. */
  Wrong,
  /**
   * The connection was made and the request sent, but no response came within the check's timeout.
   * Judged with the rest of the round: wrong when another check of the same address got an answer
   * in it (the app serves, this request hangs), else not ready (nothing answers there yet).
   */
  Unanswered,
  /**
   * The check could not be run for the host's trouble, not the revision's: the Docker Engine does
   * not answer. Says nothing about the revision, so it never fails a rollout: verification is
   * retried once the host is back.
   */
  HostUnavailable;

  /**
   * Why a request failed: {@link #Unanswered} when it timed out after {@code sent}, else (refused,
   * reset, no connection within the timeout) {@link #NotReady}.
   */
  static Failure ofRequest(Throwable err, boolean sent) {
    return sent && err instanceof java.util.concurrent.TimeoutException ? Unanswered : NotReady;
  }
}
