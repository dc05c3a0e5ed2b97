package io.vtrack.agent.store;

import io.vtrack.agent.model.Reason;
import io.vtrack.agent.model.RolloutKind;
import io.vtrack.agent.model.RolloutResult;
import io.vtrack.agent.model.Stage;

/**
 * A persisted rollout: its kind, commits, the stage it is in, how it ended, and the spec it started
 * with (canonical JSON), which it resumes and rolls back with whatever the document says now;
 * {@code stopBy} is who rolled it back by hand while it ran, if anyone did.
 */
public record RolloutRecord(
    long id,
    String deployment,
    RolloutKind kind,
    String fromCommit,
    String toCommit,
    String revision,
    String generation,
    Stage stage,
    RolloutResult result,
    Reason reason,
    String message,
    boolean restoreData,
    boolean dataRestored,
    String triggerJson,
    String startedAt,
    String finishedAt,
    String specJson,
    String stopBy) {

  public boolean active() {
    return finishedAt == null;
  }

  public boolean manual() {
    return kind == RolloutKind.ManualRollback;
  }

  /** A new rollout to be created, at its first stage. */
  public static RolloutRecord create(
      String deployment,
      RolloutKind kind,
      String from,
      String to,
      String revision,
      String generation,
      Stage stage,
      boolean restoreData,
      String triggerJson,
      String specJson) {
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
        null,
        specJson,
        null);
  }
}
