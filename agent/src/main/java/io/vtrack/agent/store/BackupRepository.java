package io.vtrack.agent.store;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.Optional;

/** The {@code backups} table: the verified backup each rollout took before its switch. */
public final class BackupRepository {
  private static final String COLUMNS =
      "rollout_id, deployment, path, size_bytes, integrity, details_json, created_at";

  private final Db db;

  BackupRepository(Db db) {
    this.db = db;
  }

  /** One backup: where it is, how large, its integrity check and what else it recorded. */
  public record BackupRow(
      long rolloutId,
      String deployment,
      String path,
      long sizeBytes,
      String integrity,
      String detailsJson,
      String createdAt) {}

  public void insert(BackupRow b) throws SQLException {
    db.update(
        "INSERT OR REPLACE INTO backups(" + COLUMNS + ") VALUES (?,?,?,?,?,?,?)",
        b.rolloutId(),
        b.deployment(),
        b.path(),
        b.sizeBytes(),
        b.integrity(),
        b.detailsJson(),
        Db.now());
  }

  public Optional<BackupRow> get(long rolloutId) throws SQLException {
    return db.first(
        "SELECT " + COLUMNS + " FROM backups WHERE rollout_id = ?",
        BackupRepository::row,
        rolloutId);
  }

  /** Backups of a deployment, newest first. */
  public List<BackupRow> list(String deployment) throws SQLException {
    return db.query(
        "SELECT " + COLUMNS + " FROM backups WHERE deployment = ? ORDER BY rollout_id DESC",
        BackupRepository::row,
        deployment);
  }

  public void delete(long rolloutId) throws SQLException {
    db.update("DELETE FROM backups WHERE rollout_id = ?", rolloutId);
  }

  private static BackupRow row(ResultSet rs) throws SQLException {
    return new BackupRow(
        rs.getLong(1),
        rs.getString(2),
        rs.getString(3),
        rs.getLong(4),
        rs.getString(5),
        rs.getString(6),
        rs.getString(7));
  }
}
