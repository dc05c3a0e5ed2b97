package io.vtrack.agent.store;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.Optional;

/** The {@code deployments} table: one row per deployment the agent has acted on. */
public final class DeploymentRepository {
  private static final String COLUMNS =
      "name, source, spec_json, generation, generation_seq, suspended, current_commit,"
          + " last_healthy_commit, status_json, running_spec_json, last_healthy_spec_json";

  private final Db db;

  DeploymentRepository(Db db) {
    this.db = db;
  }

  /** The persisted record of one deployment. */
  public record DeploymentRow(
      String name,
      String source,
      String specJson,
      String generation,
      long generationSeq,
      boolean suspended,
      String currentCommit,
      String lastHealthyCommit,
      String statusJson,
      String runningSpecJson,
      String lastHealthySpecJson) {
    /** A deployment never reconciled, as read before its first write. */
    public static DeploymentRow empty(String name, String generation) {
      return new DeploymentRow(
          name, null, null, generation, 0, false, null, null, null, null, null);
    }
  }

  /**
   * Records the document as last read; {@code specJson} null keeps the spec stored before. The same
   * document read again writes nothing: every reconcile records what it read, and a row rewritten
   * with the same values would cost a write each time and move {@code updated_at}.
   */
  public void upsert(String name, String source, String specJson, String generation)
      throws SQLException {
    db.update(
        "INSERT INTO deployments(name, source, spec_json, generation, generation_seq, updated_at)"
            + " VALUES (?,?,?,?,1,?) ON CONFLICT(name) DO UPDATE SET source=excluded.source,"
            + " spec_json=COALESCE(excluded.spec_json, deployments.spec_json),"
            + " generation_seq = deployments.generation_seq"
            + " + (CASE WHEN deployments.generation IS excluded.generation THEN 0 ELSE 1 END),"
            + " generation=excluded.generation, updated_at=excluded.updated_at"
            + " WHERE deployments.source IS NOT excluded.source"
            + " OR deployments.generation IS NOT excluded.generation"
            + " OR (excluded.spec_json IS NOT NULL"
            + " AND deployments.spec_json IS NOT excluded.spec_json)",
        name,
        source,
        specJson,
        generation,
        Db.now());
  }

  public Optional<DeploymentRow> get(String name) throws SQLException {
    return db.first(
        "SELECT " + COLUMNS + " FROM deployments WHERE name = ?", DeploymentRepository::row, name);
  }

  public List<DeploymentRow> all() throws SQLException {
    return db.query(
        "SELECT " + COLUMNS + " FROM deployments ORDER BY name", DeploymentRepository::row);
  }

  private static DeploymentRow row(ResultSet rs) throws SQLException {
    return new DeploymentRow(
        rs.getString(1),
        rs.getString(2),
        rs.getString(3),
        rs.getString(4),
        rs.getLong(5),
        rs.getInt(6) == 1,
        rs.getString(7),
        rs.getString(8),
        rs.getString(9),
        rs.getString(10),
        rs.getString(11));
  }

  /** Suspends or resumes a deployment through the API; kept across agent restarts. */
  public void setSuspended(String name, boolean suspended) throws SQLException {
    db.update("UPDATE deployments SET suspended = ? WHERE name = ?", suspended, name);
  }

  /** What runs now: a commit and the spec it was started with (null: nothing runs). */
  public void setRunning(String name, String commit, String specJson) throws SQLException {
    db.update(
        "UPDATE deployments SET current_commit = ?, running_spec_json = ?, updated_at = ?"
            + " WHERE name = ?",
        commit,
        specJson,
        Db.now(),
        name);
  }

  /** The last commit verified healthy here, with the spec it was verified with. */
  public void setLastHealthy(String name, String commit, String specJson) throws SQLException {
    db.update(
        "UPDATE deployments SET last_healthy_commit = ?,"
            + " last_healthy_spec_json = COALESCE(?, last_healthy_spec_json), updated_at = ?"
            + " WHERE name = ?",
        commit,
        specJson,
        Db.now(),
        name);
  }

  public void setStatusJson(String name, String json) throws SQLException {
    db.update("UPDATE deployments SET status_json = ? WHERE name = ?", json, name);
  }

  /** Forgets a deployment and the processes recorded for it (history and backups stay). */
  public void delete(String name) throws SQLException {
    db.inTransaction(
        () -> {
          db.update("DELETE FROM deployments WHERE name = ?", name);
          CrashPoints.reach("deployment.delete.mid");
          db.update(
              "DELETE FROM processes WHERE deployment = ? OR deployment LIKE ?", name, name + "@%");
          db.update("DELETE FROM instances WHERE deployment = ?", name);
          return null;
        });
  }
}
