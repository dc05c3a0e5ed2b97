package io.vtrack.agent.store;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;

/**
 * The {@code processes} table: every service process the agent started, by PID, process group and
 * start time, so that a restarted agent adopts exactly what it started and nothing else.
 */
public final class ProcessRepository {
  private static final String COLUMNS =
      "deployment, service, commit_sha, pid, pgid, start_ticks, started_at";

  private final Db db;

  ProcessRepository(Db db) {
    this.db = db;
  }

  /** One running service process. */
  public record ProcessRow(
      String deployment,
      String service,
      String commit,
      long pid,
      long pgid,
      long startTicks,
      String startedAt) {}

  public void put(ProcessRow p) throws SQLException {
    db.update(
        "INSERT OR REPLACE INTO processes(" + COLUMNS + ") VALUES (?,?,?,?,?,?,?)",
        p.deployment(),
        p.service(),
        p.commit(),
        p.pid(),
        p.pgid(),
        p.startTicks(),
        Db.now());
  }

  public void delete(String deployment, String service) throws SQLException {
    db.update("DELETE FROM processes WHERE deployment = ? AND service = ?", deployment, service);
  }

  public List<ProcessRow> of(String deployment) throws SQLException {
    return db.query(
        "SELECT " + COLUMNS + " FROM processes WHERE deployment = ? ORDER BY service",
        ProcessRepository::row,
        deployment);
  }

  public List<ProcessRow> all() throws SQLException {
    return db.query(
        "SELECT " + COLUMNS + " FROM processes ORDER BY deployment, service",
        ProcessRepository::row);
  }

  private static ProcessRow row(ResultSet rs) throws SQLException {
    return new ProcessRow(
        rs.getString(1),
        rs.getString(2),
        rs.getString(3),
        rs.getLong(4),
        rs.getLong(5),
        rs.getLong(6),
        rs.getString(7));
  }
}
