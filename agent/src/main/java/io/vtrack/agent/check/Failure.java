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
  Wrong
}
