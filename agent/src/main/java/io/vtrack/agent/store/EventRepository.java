package io.vtrack.agent.store;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The {@code events} table: what happened to a deployment, some of it tied to a rollout. */
public final class EventRepository {
  private final Db db;

  EventRepository(Db db) {
    this.db = db;
  }

  public void add(String deployment, String type, String reason, String message)
      throws SQLException {
    add(deployment, null, type, reason, message);
  }

  /** An event that belongs to a rollout (shown in its history record). */
  public void add(String deployment, Long rolloutId, String type, String reason, String message)
      throws SQLException {
    db.update(
        "INSERT INTO events(deployment, rollout_id, type, reason, message, at) VALUES (?,?,?,?,?,?)",
        deployment,
        rolloutId,
        type,
        reason,
        message,
        Db.now());
  }

  /** Events of one rollout, oldest first. */
  public List<Map<String, String>> ofRollout(long rolloutId) throws SQLException {
    return db.query(
        "SELECT type, reason, message, at FROM events WHERE rollout_id = ? ORDER BY id",
        EventRepository::row,
        rolloutId);
  }

  /** The newest {@code limit} events of a deployment, newest first. */
  public List<Map<String, String>> of(String deployment, int limit) throws SQLException {
    return db.query(
        "SELECT type, reason, message, at FROM events WHERE deployment = ? ORDER BY id DESC LIMIT ?",
        EventRepository::row,
        deployment,
        limit);
  }

  /** Keeps the newest {@code keep} events of a deployment that belong to no rollout. */
  public int prune(String deployment, int keep) throws SQLException {
    return db.update(
        "DELETE FROM events WHERE deployment = ? AND rollout_id IS NULL AND id NOT IN"
            + " (SELECT id FROM events WHERE deployment = ? AND rollout_id IS NULL"
            + " ORDER BY id DESC LIMIT ?)",
        deployment,
        deployment,
        keep);
  }

  private static Map<String, String> row(ResultSet rs) throws SQLException {
    Map<String, String> e = new LinkedHashMap<>();
    e.put("type", rs.getString(1));
    e.put("reason", rs.getString(2));
    e.put("message", rs.getString(3));
    e.put("at", rs.getString(4));
    return e;
  }
}
