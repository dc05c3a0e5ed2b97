package io.vtrack.agent.model;

/** How a rollout ended. */
public enum RolloutResult {
  Succeeded,
  RolledBack,
  Failed
}
