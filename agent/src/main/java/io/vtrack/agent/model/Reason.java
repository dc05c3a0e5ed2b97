package io.vtrack.agent.model;

/** Reasons of conditions and rollout results; the names are public interface. */
public enum Reason {
  // Stalled: the user must act.
  InvalidSpec,
  SharedPathMissing,
  DuplicateName,
  CommandNotAllowed,
  UnsupportedRuntime,
  // The agent's own world (transient, retried; never a commit's fault).
  InsufficientDisk,
  RuntimeUnavailable,
  ProxyUnavailable,
  StoreUnavailable,
  AgentError,
  // The source.
  SourceUnavailable,
  RevisionNotFound,
  // Pending.
  AwaitingPromotion,
  Queued,
  // Conditions.
  Verified,
  Idle,
  Progressing,
  ChecksPassing,
  ChecksFailing,
  NotRunning,
  Suspended,
  Quarantined,
  RolledBack,
  Degraded,
  Failed,
  // Rollout results.
  PrepareFailed,
  ValidationFailed,
  BackupFailed,
  ReleaseFailed,
  StartFailed,
  StartupTimeout,
  StartupFailed,
  ChecksFailed,
  ServiceExited,
  WindowFailed,
  RollbackFailed,
  PreviewFailed,
  ManualRollback,
  Succeeded
}
