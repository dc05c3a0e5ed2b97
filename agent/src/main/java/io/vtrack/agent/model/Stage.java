package io.vtrack.agent.model;

/** The persisted steps of a rollout (DESIGN.md §5); each is written before it acts. */
public enum Stage {
  Preparing(Phase.Preparing),
  Validating(Phase.Validating),
  BackingUp(Phase.BackingUp),
  /** Blue-green with {@code preview: snapshot}: the revision proven on a copy of the data. */
  Previewing(Phase.Previewing),
  Deploying(Phase.Deploying),
  Verifying(Phase.Verifying),
  RollingBack(Phase.RollingBack),
  /** Terminal: the rollout has a result. */
  Done(null);

  private final Phase phase;

  Stage(Phase phase) {
    this.phase = phase;
  }

  public Phase phase() {
    return phase;
  }
}
