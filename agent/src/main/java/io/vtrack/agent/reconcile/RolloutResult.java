package io.vtrack.agent.reconcile;

/** How a rollout ended. */
public enum RolloutResult {
  Succeeded,
  RolledBack,
  Failed
}
