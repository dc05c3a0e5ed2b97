package io.vtrack.agent.store;

/** A persisted rollout: its kind, commits, the stage it is in, and how it ended. */
public record RolloutRecord(
    long id,
    String deployment,
    String kind,
    String fromCommit,
    String toCommit,
    String revision,
    String generation,
    String stage,
    String result,
    String reason,
    String message,
    boolean restoreData,
    boolean dataRestored,
    String triggerJson,
    String startedAt,
    String finishedAt) {
  /** A rollout toward a new desired commit. */
  public static final String KIND_ROLLOUT = "rollout";

  /** A rollback asked for through the API or CLI. */
  public static final String KIND_MANUAL_ROLLBACK = "rollback";

  public boolean active() {
    return finishedAt == null;
  }

  public static RolloutRecord create(
      String deployment,
      String kind,
      String from,
      String to,
      String revision,
      String generation,
      String stage,
      boolean restoreData,
      String triggerJson) {
    return new RolloutRecord(
        0,
        deployment,
        kind,
        from,
        to,
        revision,
        generation,
        stage,
        null,
        null,
        null,
        restoreData,
        false,
        triggerJson,
        null,
        null);
  }
}
