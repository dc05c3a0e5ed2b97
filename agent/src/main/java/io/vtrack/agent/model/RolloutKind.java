package io.vtrack.agent.model;

/** What started a rollout; {@link #text()} is how history shows it (public interface). */
public enum RolloutKind {
  /** Toward a new desired commit. */
  Rollout("rollout"),
  /** A rollback asked for through the API or CLI. */
  ManualRollback("rollback");

  private final String text;

  RolloutKind(String text) {
    this.text = text;
  }

  public String text() {
    return text;
  }

  public static RolloutKind of(String text) {
    for (RolloutKind k : values()) {
      if (k.text.equals(text)) {
        return k;
      }
    }
    throw new IllegalArgumentException("unknown rollout kind '" + text + "'");
  }
}
