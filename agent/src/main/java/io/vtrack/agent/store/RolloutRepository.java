package io.vtrack.agent.store;

import io.vtrack.agent.model.Reason;
import io.vtrack.agent.model.RolloutKind;
import io.vtrack.agent.model.RolloutResult;
import io.vtrack.agent.model.Stage;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The {@code rollouts} table with the steps each ran ({@code rollout_steps}) and the check results
 * of its verification ({@code check_results}). Multi-row transitions live in {@link
 * RolloutTransitions}; history beyond the retention setting is pruned here.
 */
public final class RolloutRepository {
  private static final String COLUMNS =
      "id, deployment, kind, from_commit, to_commit, revision, generation, stage, result, reason,"
          + " message, restore_data, data_restored, trigger_json, started_at, finished_at, spec_json,"
          + " stop_by";

  private final Db db;

  RolloutRepository(Db db) {
    this.db = db;
  }

  public long create(RolloutRecord r) throws SQLException {
    return db.insert(
        "INSERT INTO rollouts(deployment, kind, from_commit, to_commit, revision, generation, stage,"
            + " restore_data, trigger_json, started_at, spec_json) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        r.deployment(),
        r.kind().text(),
        r.fromCommit(),
        r.toCommit(),
        r.revision(),
        r.generation(),
        r.stage(),
        r.restoreData(),
        r.triggerJson(),
        r.startedAt() == null ? Db.now() : r.startedAt(),
        r.specJson());
  }

  public void setStage(long rolloutId, Stage stage) throws SQLException {
    db.update("UPDATE rollouts SET stage = ? WHERE id = ?", stage, rolloutId);
  }

  /** Positions taken before the switch (log offsets), as JSON. */
  public void setMarks(long rolloutId, String json) throws SQLException {
    db.update("UPDATE rollouts SET marks_json = ? WHERE id = ?", json, rolloutId);
  }

  public Optional<String> marks(long rolloutId) throws SQLException {
    return db.first(
        "SELECT marks_json FROM rollouts WHERE id = ? AND marks_json IS NOT NULL",
        rs -> rs.getString(1),
        rolloutId);
  }

  public void setDataRestored(long rolloutId) throws SQLException {
    db.update("UPDATE rollouts SET data_restored = 1 WHERE id = ?", rolloutId);
  }

  public void setOutcome(long rolloutId, Reason reason, String message) throws SQLException {
    db.update(
        "UPDATE rollouts SET reason = ?, message = ? WHERE id = ?", reason, message, rolloutId);
  }

  /**
   * A rollback asked for while a rollout ran (DESIGN.md §4, {@code vtrack rollback}): the rollout
   * stops and goes back to the last healthy commit.
   *
   * @param by who asked (the API's caller)
   * @param stage the stage the rollout was in when asked
   * @param restoreData whether the data backup taken before the rollout comes back; null: as the
   *     rollout's {@code rollback.restoreData} says
   * @param at when, ISO-8601
   */
  public record StopRequest(String by, Stage stage, Boolean restoreData, String at) {
    /** In words, for the rollout's record and the status. */
    public String describe() {
      return "rolled back by " + by + " while " + stage;
    }
  }

  /**
   * Records that {@code rolloutId} is to stop and roll back; false when it cannot be any more (it
   * ended, is rolling back already, is itself a rollback, or was asked to stop before).
   */
  public boolean requestStop(long rolloutId, String by, Boolean restoreData) throws SQLException {
    return db.update(
            "UPDATE rollouts SET stop_by = ?, stop_stage = stage, stop_restore = ?, stop_at = ?"
                + " WHERE id = ? AND finished_at IS NULL AND stop_by IS NULL AND kind = ?"
                + " AND stage NOT IN (?, ?)",
            by,
            restoreData,
            Db.now(),
            rolloutId,
            RolloutKind.Rollout.text(),
            Stage.RollingBack,
            Stage.Done)
        == 1;
  }

  /** The rollback asked for while {@code rolloutId} ran, if one was. */
  public Optional<StopRequest> stopRequest(long rolloutId) throws SQLException {
    return db.first(
        "SELECT stop_by, stop_stage, stop_restore, stop_at FROM rollouts"
            + " WHERE id = ? AND stop_by IS NOT NULL",
        rs -> {
          int restore = rs.getInt(3);
          Boolean restoreData = rs.wasNull() ? null : restore == 1;
          return new StopRequest(
              rs.getString(1), Stage.valueOf(rs.getString(2)), restoreData, rs.getString(4));
        },
        rolloutId);
  }

  /** Ends a rollout; a null reason or message keeps the one recorded before. */
  public void finish(long rolloutId, RolloutResult result, Reason reason, String message)
      throws SQLException {
    db.update(
        "UPDATE rollouts SET stage = ?, result = ?, reason = COALESCE(?, reason),"
            + " message = COALESCE(?, message), finished_at = ? WHERE id = ?",
        Stage.Done,
        result,
        reason,
        message,
        Db.now(),
        rolloutId);
  }

  public Optional<RolloutRecord> active(String deployment) throws SQLException {
    return first(
        "WHERE deployment = ? AND finished_at IS NULL ORDER BY id DESC LIMIT 1", deployment);
  }

  public Optional<RolloutRecord> get(long id) throws SQLException {
    return first("WHERE id = ?", id);
  }

  public Optional<RolloutRecord> lastFinished(String deployment) throws SQLException {
    return first(
        "WHERE deployment = ? AND finished_at IS NOT NULL ORDER BY id DESC LIMIT 1", deployment);
  }

  /** The most recent finished rollout that switched the deployment to {@code commit}. */
  public Optional<RolloutRecord> thatDeployed(String deployment, String commit)
      throws SQLException {
    return first(
        "WHERE deployment = ? AND to_commit = ? AND finished_at IS NOT NULL ORDER BY id DESC LIMIT 1",
        deployment,
        commit);
  }

  /** Newest first. */
  public List<RolloutRecord> list(String deployment, int limit) throws SQLException {
    return db.query(
        "SELECT " + COLUMNS + " FROM rollouts WHERE deployment = ? ORDER BY id DESC LIMIT ?",
        RolloutRepository::row,
        deployment,
        limit);
  }

  private Optional<RolloutRecord> first(String where, Object... args) throws SQLException {
    return db.first("SELECT " + COLUMNS + " FROM rollouts " + where, RolloutRepository::row, args);
  }

  private static RolloutRecord row(ResultSet rs) throws SQLException {
    return new RolloutRecord(
        rs.getLong(1),
        rs.getString(2),
        RolloutKind.of(rs.getString(3)),
        rs.getString(4),
        rs.getString(5),
        rs.getString(6),
        rs.getString(7),
        Stage.valueOf(rs.getString(8)),
        rs.getString(9) == null ? null : RolloutResult.valueOf(rs.getString(9)),
        reason(rs.getString(10)),
        rs.getString(11),
        rs.getInt(12) == 1,
        rs.getInt(13) == 1,
        rs.getString(14),
        rs.getString(15),
        rs.getString(16),
        rs.getString(17),
        rs.getString(18));
  }

  private static Reason reason(String s) {
    if (s == null) {
      return null;
    }
    try {
      return Reason.valueOf(s);
    } catch (IllegalArgumentException e) {
      return Reason.Failed;
    }
  }

  // ---- steps ----

  /** One step a rollout ran, with its result and output. */
  public record StepRecord(
      long id,
      long rolloutId,
      String step,
      String startedAt,
      String finishedAt,
      String result,
      String output) {}

  public long startStep(long rolloutId, String step) throws SQLException {
    return db.insert(
        "INSERT INTO rollout_steps(rollout_id, step, started_at) VALUES (?,?,?)",
        rolloutId,
        step,
        Db.now());
  }

  public void finishStep(long stepId, String result, String output) throws SQLException {
    db.update(
        "UPDATE rollout_steps SET finished_at = ?, result = ?, output = ? WHERE id = ?",
        Db.now(),
        result,
        output,
        stepId);
  }

  /**
   * Steps left open by an agent that died mid-step are closed as interrupted: on start, for every
   * rollout; returns how many.
   */
  public int interruptOpenSteps() throws SQLException {
    return db.update(
        "UPDATE rollout_steps SET finished_at = ?, result = 'Interrupted',"
            + " output = COALESCE(output, 'the agent stopped during this step; it was resumed')"
            + " WHERE finished_at IS NULL",
        Db.now());
  }

  public List<StepRecord> steps(long rolloutId) throws SQLException {
    return db.query(
        "SELECT id, rollout_id, step, started_at, finished_at, result, output FROM rollout_steps"
            + " WHERE rollout_id = ? ORDER BY id",
        rs ->
            new StepRecord(
                rs.getLong(1),
                rs.getLong(2),
                rs.getString(3),
                rs.getString(4),
                rs.getString(5),
                rs.getString(6),
                rs.getString(7)),
        rolloutId);
  }

  // ---- check results ----

  /** One check's result in one round of a rollout's verification. */
  public record CheckRow(
      String deployment,
      Long rolloutId,
      String stage,
      int round,
      String name,
      String kind,
      String status,
      String value,
      String message,
      long durationMs,
      String at,
      String failure) {}

  public void insertCheckResults(List<CheckRow> rows) throws SQLException {
    List<Object[]> values = new ArrayList<>();
    for (CheckRow r : rows) {
      values.add(
          new Object[] {
            r.deployment(),
            r.rolloutId(),
            r.stage(),
            r.round(),
            r.name(),
            r.kind(),
            r.status(),
            r.value(),
            r.message(),
            r.durationMs(),
            r.at(),
            r.failure()
          });
    }
    db.batch(
        "INSERT INTO check_results(deployment, rollout_id, stage, round, name, kind, status, value,"
            + " message, duration_ms, at, failure) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        values);
  }

  public List<CheckRow> checkResults(long rolloutId) throws SQLException {
    return db.query(
        "SELECT deployment, rollout_id, stage, round, name, kind, status, value, message,"
            + " duration_ms, at, failure FROM check_results WHERE rollout_id = ? ORDER BY id",
        rs ->
            new CheckRow(
                rs.getString(1),
                rs.getLong(2),
                rs.getString(3),
                rs.getInt(4),
                rs.getString(5),
                rs.getString(6),
                rs.getString(7),
                rs.getString(8),
                rs.getString(9),
                rs.getLong(10),
                rs.getString(11),
                rs.getString(12)),
        rolloutId);
  }

  // ---- retention ----

  /**
   * Keeps the newest {@code keep} finished rollouts of a deployment (with their steps, check
   * results and events) and deletes older ones, in one transaction; returns how many went.
   */
  public int prune(String deployment, int keep) throws SQLException {
    return db.inTransaction(
        () -> {
          List<Long> old =
              db.query(
                  "SELECT id FROM rollouts WHERE deployment = ? AND finished_at IS NOT NULL"
                      + " ORDER BY id DESC LIMIT -1 OFFSET ?",
                  rs -> rs.getLong(1),
                  deployment,
                  keep);
          if (old.isEmpty()) {
            return 0;
          }
          long newestOld = old.get(0);
          db.update(
              "DELETE FROM check_results WHERE deployment = ? AND rollout_id <= ?",
              deployment,
              newestOld);
          db.update(
              "DELETE FROM rollout_steps WHERE rollout_id IN (SELECT id FROM rollouts"
                  + " WHERE deployment = ? AND id <= ? AND finished_at IS NOT NULL)",
              deployment,
              newestOld);
          db.update(
              "DELETE FROM events WHERE deployment = ? AND rollout_id <= ?", deployment, newestOld);
          return db.update(
              "DELETE FROM rollouts WHERE deployment = ? AND id <= ? AND finished_at IS NOT NULL",
              deployment,
              newestOld);
        });
  }
}
