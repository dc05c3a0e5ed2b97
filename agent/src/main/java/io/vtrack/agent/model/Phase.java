package io.vtrack.agent.model;

/** Where reconciliation of a deployment stands (DESIGN.md §3), in the order the rules apply. */
public enum Phase {
  Suspended,
  Stalled,
  Preparing,
  Validating,
  BackingUp,
  Previewing,
  Deploying,
  Verifying,
  RollingBack,
  Pending,
  RolledBack,
  Healthy,
  Degraded,
  Failed
}
