package io.vtrack.agent.store;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The agent's SQLite state store: deployments, commits (verified with baseline, or quarantined),
 * rollouts and their steps, check results, backups, processes and events.
 *
 * <p>Every method blocks on JDBC: call it from a worker, never from an event-loop thread. One
 * connection serialised by this object's monitor keeps writes ordered.
 */
public final class StateStore implements AutoCloseable {
  private static final List<String> MIGRATIONS =
      List.of(
          """
          CREATE TABLE deployments (
            name TEXT PRIMARY KEY,
            source TEXT,
            spec_json TEXT,
            generation TEXT,
            generation_seq INTEGER NOT NULL DEFAULT 0,
            current_commit TEXT,
            last_healthy_commit TEXT,
            status_json TEXT,
            updated_at TEXT NOT NULL
          );
          CREATE TABLE commits (
            deployment TEXT NOT NULL,
            commit_sha TEXT NOT NULL,
            state TEXT NOT NULL,
            generation TEXT,
            reason TEXT,
            baseline_json TEXT,
            at TEXT NOT NULL,
            PRIMARY KEY (deployment, commit_sha)
          );
          CREATE TABLE rollouts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            deployment TEXT NOT NULL,
            kind TEXT NOT NULL,
            from_commit TEXT,
            to_commit TEXT NOT NULL,
            revision TEXT,
            generation TEXT,
            stage TEXT NOT NULL,
            result TEXT,
            reason TEXT,
            message TEXT,
            restore_data INTEGER NOT NULL DEFAULT 1,
            data_restored INTEGER NOT NULL DEFAULT 0,
            trigger_json TEXT,
            started_at TEXT NOT NULL,
            finished_at TEXT
          );
          CREATE INDEX rollouts_by_deployment ON rollouts(deployment, id);
          CREATE TABLE rollout_steps (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            rollout_id INTEGER NOT NULL,
            step TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            result TEXT,
            output TEXT
          );
          CREATE INDEX steps_by_rollout ON rollout_steps(rollout_id, id);
          CREATE TABLE check_results (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            deployment TEXT NOT NULL,
            rollout_id INTEGER,
            stage TEXT,
            round INTEGER,
            name TEXT NOT NULL,
            kind TEXT NOT NULL,
            status TEXT NOT NULL,
            value TEXT,
            message TEXT,
            duration_ms INTEGER,
            at TEXT NOT NULL
          );
          CREATE INDEX checks_by_rollout ON check_results(rollout_id, id);
          CREATE TABLE backups (
            rollout_id INTEGER PRIMARY KEY,
            deployment TEXT NOT NULL,
            path TEXT NOT NULL,
            size_bytes INTEGER NOT NULL,
            integrity TEXT,
            details_json TEXT,
            created_at TEXT NOT NULL
          );
          CREATE TABLE processes (
            deployment TEXT NOT NULL,
            service TEXT NOT NULL,
            commit_sha TEXT NOT NULL,
            pid INTEGER NOT NULL,
            pgid INTEGER NOT NULL,
            start_ticks INTEGER NOT NULL,
            started_at TEXT NOT NULL,
            PRIMARY KEY (deployment, service)
          );
          CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            deployment TEXT NOT NULL,
            type TEXT NOT NULL,
            reason TEXT,
            message TEXT,
            at TEXT NOT NULL
          );
          CREATE INDEX events_by_deployment ON events(deployment, id);
          """,
          // v2: log offsets taken before the switch, the spec each rollout deployed, suspension
          // by API, and events tied to the rollout they belong to.
          """
          ALTER TABLE rollouts ADD COLUMN marks_json TEXT;
          ALTER TABLE rollouts ADD COLUMN spec_json TEXT;
          ALTER TABLE deployments ADD COLUMN suspended INTEGER NOT NULL DEFAULT 0;
          ALTER TABLE events ADD COLUMN rollout_id INTEGER;
          """,
          // v3: whether a failing check was not ready or answered wrong (fail-fast verification).
          """
          ALTER TABLE check_results ADD COLUMN failure TEXT;
          """);

  private final Connection conn;

  private StateStore(Connection conn) {
    this.conn = conn;
  }

  /** Opens (creating when missing) the store at {@code <stateDir>/state.db} and migrates it. */
  public static StateStore open(Path stateDir) throws SQLException {
    try {
      Files.createDirectories(stateDir);
    } catch (java.io.IOException e) {
      throw new SQLException(
          "cannot create state directory " + stateDir + ": " + e.getMessage(), e);
    }
    Connection c = DriverManager.getConnection("jdbc:sqlite:" + stateDir.resolve("state.db"));
    try (Statement st = c.createStatement()) {
      st.execute("PRAGMA journal_mode=WAL");
      st.execute("PRAGMA synchronous=NORMAL");
      st.execute("PRAGMA busy_timeout=5000");
      st.execute("PRAGMA foreign_keys=ON");
    }
    StateStore store = new StateStore(c);
    store.migrate();
    return store;
  }

  private synchronized void migrate() throws SQLException {
    try (Statement st = conn.createStatement()) {
      st.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
      int version = 0;
      try (ResultSet rs = st.executeQuery("SELECT MAX(version) FROM schema_version")) {
        if (rs.next()) {
          version = rs.getInt(1);
        }
      }
      for (int v = version; v < MIGRATIONS.size(); v++) {
        conn.setAutoCommit(false);
        try {
          for (String sql : MIGRATIONS.get(v).split(";")) {
            if (!sql.isBlank()) {
              st.execute(sql);
            }
          }
          st.execute("INSERT INTO schema_version(version) VALUES (" + (v + 1) + ")");
          conn.commit();
        } catch (SQLException e) {
          conn.rollback();
          throw e;
        } finally {
          conn.setAutoCommit(true);
        }
      }
    }
  }

  public synchronized int schemaVersion() throws SQLException {
    try (Statement st = conn.createStatement();
        ResultSet rs = st.executeQuery("SELECT MAX(version) FROM schema_version")) {
      return rs.next() ? rs.getInt(1) : 0;
    }
  }

  @Override
  public synchronized void close() throws SQLException {
    conn.close();
  }

  static String now() {
    return Instant.now().toString();
  }

  // ---- deployments ----

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
      String statusJson) {}

  public synchronized void upsertDeployment(
      String name, String source, String specJson, String generation) throws SQLException {
    try (PreparedStatement ps =
        conn.prepareStatement(
            "INSERT INTO deployments(name, source, spec_json, generation, generation_seq, updated_at)"
                + " VALUES (?,?,?,?,1,?) ON CONFLICT(name) DO UPDATE SET source=excluded.source,"
                + " spec_json=excluded.spec_json, generation_seq = deployments.generation_seq"
                + " + (CASE WHEN deployments.generation IS excluded.generation THEN 0 ELSE 1 END),"
                + " generation=excluded.generation, updated_at=excluded.updated_at")) {
      ps.setString(1, name);
      ps.setString(2, source);
      ps.setString(3, specJson);
      ps.setString(4, generation);
      ps.setString(5, now());
      ps.executeUpdate();
    }
  }

  public synchronized Optional<DeploymentRow> deployment(String name) throws SQLException {
    try (PreparedStatement ps =
        conn.prepareStatement(
            "SELECT name, source, spec_json, generation, generation_seq, suspended, current_commit,"
                + " last_healthy_commit, status_json FROM deployments WHERE name = ?")) {
      ps.setString(1, name);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(deploymentRow(rs)) : Optional.empty();
      }
    }
  }

  public synchronized List<DeploymentRow> deployments() throws SQLException {
    List<DeploymentRow> out = new ArrayList<>();
    try (Statement st = conn.createStatement();
        ResultSet rs =
            st.executeQuery(
                "SELECT name, source, spec_json, generation, generation_seq, suspended, current_commit,"
                    + " last_healthy_commit, status_json FROM deployments ORDER BY name")) {
      while (rs.next()) {
        out.add(deploymentRow(rs));
      }
    }
    return out;
  }

  private static DeploymentRow deploymentRow(ResultSet rs) throws SQLException {
    return new DeploymentRow(
        rs.getString(1),
        rs.getString(2),
        rs.getString(3),
        rs.getString(4),
        rs.getLong(5),
        rs.getInt(6) == 1,
        rs.getString(7),
        rs.getString(8),
        rs.getString(9));
  }

  /** Suspends or resumes a deployment through the API; kept across agent restarts. */
  public synchronized void setSuspended(String name, boolean suspended) throws SQLException {
    update("UPDATE deployments SET suspended = ? WHERE name = ?", suspended ? 1 : 0, name);
  }

  /** The spec a rollout deployed (canonical JSON), for diffs against the desired one. */
  public synchronized void setRolloutSpec(long rolloutId, String specJson) throws SQLException {
    update("UPDATE rollouts SET spec_json = ? WHERE id = ?", specJson, rolloutId);
  }

  public synchronized Optional<String> rolloutSpec(long rolloutId) throws SQLException {
    List<String> s =
        strings("SELECT spec_json FROM rollouts WHERE id = ? AND spec_json IS NOT NULL", rolloutId);
    return s.isEmpty() ? Optional.empty() : Optional.of(s.get(0));
  }

  public synchronized void setCurrentCommit(String name, String commit) throws SQLException {
    update(
        "UPDATE deployments SET current_commit = ?, updated_at = ? WHERE name = ?",
        commit,
        now(),
        name);
  }

  public synchronized void setLastHealthyCommit(String name, String commit) throws SQLException {
    update(
        "UPDATE deployments SET last_healthy_commit = ?, updated_at = ? WHERE name = ?",
        commit,
        now(),
        name);
  }

  public synchronized void setStatusJson(String name, String json) throws SQLException {
    update("UPDATE deployments SET status_json = ? WHERE name = ?", json, name);
  }

  public synchronized void deleteDeployment(String name) throws SQLException {
    update("DELETE FROM deployments WHERE name = ?", name);
    update("DELETE FROM processes WHERE deployment = ?", name);
  }

  // ---- commits ----

  public synchronized void markVerified(String deployment, String commit, String baselineJson)
      throws SQLException {
    update(
        "INSERT INTO commits(deployment, commit_sha, state, baseline_json, at) VALUES (?,?,'verified',?,?)"
            + " ON CONFLICT(deployment, commit_sha) DO UPDATE SET state='verified', reason=NULL,"
            + " generation=NULL, baseline_json=COALESCE(excluded.baseline_json, commits.baseline_json),"
            + " at=excluded.at",
        deployment,
        commit,
        baselineJson,
        now());
  }

  public synchronized void quarantine(
      String deployment, String commit, String generation, String reason) throws SQLException {
    update(
        "INSERT INTO commits(deployment, commit_sha, state, generation, reason, at) VALUES (?,?,'quarantined',?,?,?)"
            + " ON CONFLICT(deployment, commit_sha) DO UPDATE SET state='quarantined',"
            + " generation=excluded.generation, reason=excluded.reason, at=excluded.at",
        deployment,
        commit,
        generation,
        reason,
        now());
  }

  /**
   * Lifts a quarantine. A commit that was verified before keeps its baseline but must be verified
   * again, so its row is removed rather than turned back to verified.
   */
  public synchronized int clearQuarantine(String deployment) throws SQLException {
    return update("DELETE FROM commits WHERE deployment = ? AND state = 'quarantined'", deployment);
  }

  /** Commits verified healthy here, newest first. */
  public synchronized List<String> verifiedCommits(String deployment) throws SQLException {
    return strings(
        "SELECT commit_sha FROM commits WHERE deployment = ? AND state = 'verified' ORDER BY at DESC, rowid DESC",
        deployment);
  }

  /** Commits quarantined under the given generation, newest first. */
  public synchronized List<String> quarantinedCommits(String deployment, String generation)
      throws SQLException {
    return strings(
        "SELECT commit_sha FROM commits WHERE deployment = ? AND state = 'quarantined' AND generation = ?"
            + " ORDER BY at DESC, rowid DESC",
        deployment,
        generation);
  }

  /** Why a commit was quarantined, or empty when it is not. */
  public synchronized Optional<String> quarantineReason(String deployment, String commit)
      throws SQLException {
    List<String> s =
        strings(
            "SELECT reason FROM commits WHERE deployment = ? AND commit_sha = ? AND state = 'quarantined'",
            deployment,
            commit);
    return s.isEmpty() ? Optional.empty() : Optional.ofNullable(s.get(0));
  }

  public synchronized Optional<String> baseline(String deployment, String commit)
      throws SQLException {
    List<String> s =
        strings(
            "SELECT baseline_json FROM commits WHERE deployment = ? AND commit_sha = ? AND baseline_json IS NOT NULL",
            deployment,
            commit);
    return s.isEmpty() ? Optional.empty() : Optional.of(s.get(0));
  }

  // ---- rollouts ----

  public synchronized long createRollout(RolloutRecord r) throws SQLException {
    try (PreparedStatement ps =
        conn.prepareStatement(
            "INSERT INTO rollouts(deployment, kind, from_commit, to_commit, revision, generation, stage,"
                + " restore_data, trigger_json, started_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            Statement.RETURN_GENERATED_KEYS)) {
      ps.setString(1, r.deployment());
      ps.setString(2, r.kind());
      ps.setString(3, r.fromCommit());
      ps.setString(4, r.toCommit());
      ps.setString(5, r.revision());
      ps.setString(6, r.generation());
      ps.setString(7, r.stage());
      ps.setInt(8, r.restoreData() ? 1 : 0);
      ps.setString(9, r.triggerJson());
      ps.setString(10, r.startedAt() == null ? now() : r.startedAt());
      ps.executeUpdate();
      try (ResultSet keys = ps.getGeneratedKeys()) {
        keys.next();
        return keys.getLong(1);
      }
    }
  }

  public synchronized void setStage(long rolloutId, String stage) throws SQLException {
    update("UPDATE rollouts SET stage = ? WHERE id = ?", stage, rolloutId);
  }

  /** Positions taken before the switch (log offsets), as JSON. */
  public synchronized void setMarks(long rolloutId, String json) throws SQLException {
    update("UPDATE rollouts SET marks_json = ? WHERE id = ?", json, rolloutId);
  }

  public synchronized Optional<String> marks(long rolloutId) throws SQLException {
    List<String> s =
        strings(
            "SELECT marks_json FROM rollouts WHERE id = ? AND marks_json IS NOT NULL", rolloutId);
    return s.isEmpty() ? Optional.empty() : Optional.of(s.get(0));
  }

  public synchronized void setDataRestored(long rolloutId) throws SQLException {
    update("UPDATE rollouts SET data_restored = 1 WHERE id = ?", rolloutId);
  }

  public synchronized void setRolloutOutcome(long rolloutId, String reason, String message)
      throws SQLException {
    update("UPDATE rollouts SET reason = ?, message = ? WHERE id = ?", reason, message, rolloutId);
  }

  public synchronized void finishRollout(
      long rolloutId, String stage, String result, String reason, String message)
      throws SQLException {
    update(
        "UPDATE rollouts SET stage = ?, result = ?, reason = COALESCE(?, reason),"
            + " message = COALESCE(?, message), finished_at = ? WHERE id = ?",
        stage,
        result,
        reason,
        message,
        now(),
        rolloutId);
  }

  public synchronized Optional<RolloutRecord> activeRollout(String deployment) throws SQLException {
    List<RolloutRecord> r =
        queryRollouts(
            "WHERE deployment = ? AND finished_at IS NULL ORDER BY id DESC LIMIT 1", deployment);
    return r.isEmpty() ? Optional.empty() : Optional.of(r.get(0));
  }

  public synchronized Optional<RolloutRecord> rollout(long id) throws SQLException {
    List<RolloutRecord> r = queryRollouts("WHERE id = ?", id);
    return r.isEmpty() ? Optional.empty() : Optional.of(r.get(0));
  }

  public synchronized Optional<RolloutRecord> lastFinishedRollout(String deployment)
      throws SQLException {
    List<RolloutRecord> r =
        queryRollouts(
            "WHERE deployment = ? AND finished_at IS NOT NULL ORDER BY id DESC LIMIT 1",
            deployment);
    return r.isEmpty() ? Optional.empty() : Optional.of(r.get(0));
  }

  /** The most recent finished rollout that switched the deployment to {@code commit}. */
  public synchronized Optional<RolloutRecord> rolloutThatDeployed(String deployment, String commit)
      throws SQLException {
    List<RolloutRecord> r =
        queryRollouts(
            "WHERE deployment = ? AND to_commit = ? AND finished_at IS NOT NULL ORDER BY id DESC LIMIT 1",
            deployment,
            commit);
    return r.isEmpty() ? Optional.empty() : Optional.of(r.get(0));
  }

  public synchronized List<RolloutRecord> rollouts(String deployment, int limit)
      throws SQLException {
    return queryRollouts("WHERE deployment = ? ORDER BY id DESC LIMIT ?", deployment, limit);
  }

  private List<RolloutRecord> queryRollouts(String where, Object... args) throws SQLException {
    return query(
        "SELECT id, deployment, kind, from_commit, to_commit, revision, generation, stage, result,"
            + " reason, message, restore_data, data_restored, trigger_json, started_at, finished_at"
            + " FROM rollouts "
            + where,
        rs ->
            new RolloutRecord(
                rs.getLong(1),
                rs.getString(2),
                rs.getString(3),
                rs.getString(4),
                rs.getString(5),
                rs.getString(6),
                rs.getString(7),
                rs.getString(8),
                rs.getString(9),
                rs.getString(10),
                rs.getString(11),
                rs.getInt(12) == 1,
                rs.getInt(13) == 1,
                rs.getString(14),
                rs.getString(15),
                rs.getString(16)),
        args);
  }

  // ---- steps ----

  public synchronized long startStep(long rolloutId, String step) throws SQLException {
    try (PreparedStatement ps =
        conn.prepareStatement(
            "INSERT INTO rollout_steps(rollout_id, step, started_at) VALUES (?,?,?)",
            Statement.RETURN_GENERATED_KEYS)) {
      ps.setLong(1, rolloutId);
      ps.setString(2, step);
      ps.setString(3, now());
      ps.executeUpdate();
      try (ResultSet keys = ps.getGeneratedKeys()) {
        keys.next();
        return keys.getLong(1);
      }
    }
  }

  public synchronized void finishStep(long stepId, String result, String output)
      throws SQLException {
    update(
        "UPDATE rollout_steps SET finished_at = ?, result = ?, output = ? WHERE id = ?",
        now(),
        result,
        output,
        stepId);
  }

  /** Steps left open by an agent that died mid-step are closed as interrupted on resume. */
  public synchronized void interruptOpenSteps(long rolloutId) throws SQLException {
    update(
        "UPDATE rollout_steps SET finished_at = ?, result = 'Interrupted' WHERE rollout_id = ? AND finished_at IS NULL",
        now(),
        rolloutId);
  }

  public record StepRecord(
      long id,
      long rolloutId,
      String step,
      String startedAt,
      String finishedAt,
      String result,
      String output) {}

  public synchronized List<StepRecord> steps(long rolloutId) throws SQLException {
    return query(
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

  public synchronized void insertCheckResults(List<CheckRow> rows) throws SQLException {
    conn.setAutoCommit(false);
    try (PreparedStatement ps =
        conn.prepareStatement(
            "INSERT INTO check_results(deployment, rollout_id, stage, round, name, kind, status, value,"
                + " message, duration_ms, at, failure) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)")) {
      for (CheckRow r : rows) {
        ps.setString(1, r.deployment());
        if (r.rolloutId() == null) {
          ps.setNull(2, java.sql.Types.INTEGER);
        } else {
          ps.setLong(2, r.rolloutId());
        }
        ps.setString(3, r.stage());
        ps.setInt(4, r.round());
        ps.setString(5, r.name());
        ps.setString(6, r.kind());
        ps.setString(7, r.status());
        ps.setString(8, r.value());
        ps.setString(9, r.message());
        ps.setLong(10, r.durationMs());
        ps.setString(11, r.at());
        ps.setString(12, r.failure());
        ps.addBatch();
      }
      ps.executeBatch();
      conn.commit();
    } catch (SQLException e) {
      conn.rollback();
      throw e;
    } finally {
      conn.setAutoCommit(true);
    }
  }

  public synchronized List<CheckRow> checkResults(long rolloutId) throws SQLException {
    return query(
        "SELECT deployment, rollout_id, stage, round, name, kind, status, value, message, duration_ms, at,"
            + " failure FROM check_results WHERE rollout_id = ? ORDER BY id",
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

  // ---- backups ----

  public record BackupRow(
      long rolloutId,
      String deployment,
      String path,
      long sizeBytes,
      String integrity,
      String detailsJson,
      String createdAt) {}

  public synchronized void insertBackup(BackupRow b) throws SQLException {
    update(
        "INSERT OR REPLACE INTO backups(rollout_id, deployment, path, size_bytes, integrity, details_json,"
            + " created_at) VALUES (?,?,?,?,?,?,?)",
        b.rolloutId(),
        b.deployment(),
        b.path(),
        b.sizeBytes(),
        b.integrity(),
        b.detailsJson(),
        now());
  }

  public synchronized Optional<BackupRow> backup(long rolloutId) throws SQLException {
    List<BackupRow> r = queryBackups("WHERE rollout_id = ?", rolloutId);
    return r.isEmpty() ? Optional.empty() : Optional.of(r.get(0));
  }

  /** Backups of a deployment, newest first. */
  public synchronized List<BackupRow> backups(String deployment) throws SQLException {
    return queryBackups("WHERE deployment = ? ORDER BY rollout_id DESC", deployment);
  }

  public synchronized void deleteBackup(long rolloutId) throws SQLException {
    update("DELETE FROM backups WHERE rollout_id = ?", rolloutId);
  }

  private List<BackupRow> queryBackups(String where, Object... args) throws SQLException {
    return query(
        "SELECT rollout_id, deployment, path, size_bytes, integrity, details_json, created_at FROM backups "
            + where,
        rs ->
            new BackupRow(
                rs.getLong(1),
                rs.getString(2),
                rs.getString(3),
                rs.getLong(4),
                rs.getString(5),
                rs.getString(6),
                rs.getString(7)),
        args);
  }

  // ---- processes ----

  public record ProcessRow(
      String deployment,
      String service,
      String commit,
      long pid,
      long pgid,
      long startTicks,
      String startedAt) {}

  public synchronized void putProcess(ProcessRow p) throws SQLException {
    update(
        "INSERT OR REPLACE INTO processes(deployment, service, commit_sha, pid, pgid, start_ticks, started_at)"
            + " VALUES (?,?,?,?,?,?,?)",
        p.deployment(),
        p.service(),
        p.commit(),
        p.pid(),
        p.pgid(),
        p.startTicks(),
        now());
  }

  public synchronized void deleteProcess(String deployment, String service) throws SQLException {
    update("DELETE FROM processes WHERE deployment = ? AND service = ?", deployment, service);
  }

  public synchronized List<ProcessRow> processes(String deployment) throws SQLException {
    return queryProcesses("WHERE deployment = ? ORDER BY service", deployment);
  }

  public synchronized List<ProcessRow> allProcesses() throws SQLException {
    return queryProcesses("ORDER BY deployment, service");
  }

  private List<ProcessRow> queryProcesses(String where, Object... args) throws SQLException {
    return query(
        "SELECT deployment, service, commit_sha, pid, pgid, start_ticks, started_at FROM processes "
            + where,
        rs ->
            new ProcessRow(
                rs.getString(1),
                rs.getString(2),
                rs.getString(3),
                rs.getLong(4),
                rs.getLong(5),
                rs.getLong(6),
                rs.getString(7)),
        args);
  }

  // ---- events ----

  public synchronized void addEvent(String deployment, String type, String reason, String message)
      throws SQLException {
    addEvent(deployment, null, type, reason, message);
  }

  /** An event that belongs to a rollout (shown in its history record). */
  public synchronized void addEvent(
      String deployment, Long rolloutId, String type, String reason, String message)
      throws SQLException {
    update(
        "INSERT INTO events(deployment, rollout_id, type, reason, message, at) VALUES (?,?,?,?,?,?)",
        deployment,
        rolloutId,
        type,
        reason,
        message,
        now());
  }

  /** Events of one rollout, oldest first. */
  public synchronized List<Map<String, String>> rolloutEvents(long rolloutId) throws SQLException {
    return query(
        "SELECT type, reason, message, at FROM events WHERE rollout_id = ? ORDER BY id",
        StateStore::event,
        rolloutId);
  }

  public synchronized List<Map<String, String>> events(String deployment, int limit)
      throws SQLException {
    return query(
        "SELECT type, reason, message, at FROM events WHERE deployment = ? ORDER BY id DESC LIMIT ?",
        StateStore::event,
        deployment,
        limit);
  }

  private static Map<String, String> event(ResultSet rs) throws SQLException {
    Map<String, String> e = new LinkedHashMap<>();
    e.put("type", rs.getString(1));
    e.put("reason", rs.getString(2));
    e.put("message", rs.getString(3));
    e.put("at", rs.getString(4));
    return e;
  }

  /** Maps one row of a result. */
  @FunctionalInterface
  private interface RowMapper<T> {
    T map(ResultSet rs) throws SQLException;
  }

  private <T> List<T> query(String sql, RowMapper<T> mapper, Object... args) throws SQLException {
    List<T> out = new ArrayList<>();
    try (PreparedStatement ps = conn.prepareStatement(sql)) {
      bind(ps, args);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(mapper.map(rs));
        }
      }
    }
    return out;
  }

  // ---- helpers ----

  private int update(String sql, Object... args) throws SQLException {
    try (PreparedStatement ps = conn.prepareStatement(sql)) {
      bind(ps, args);
      return ps.executeUpdate();
    }
  }

  private List<String> strings(String sql, Object... args) throws SQLException {
    return query(sql, rs -> rs.getString(1), args);
  }

  private static void bind(PreparedStatement ps, Object... args) throws SQLException {
    for (int i = 0; i < args.length; i++) {
      Object a = args[i];
      if (a == null) {
        ps.setNull(i + 1, java.sql.Types.NULL);
      } else if (a instanceof Long l) {
        ps.setLong(i + 1, l);
      } else if (a instanceof Integer n) {
        ps.setInt(i + 1, n);
      } else {
        ps.setString(i + 1, a.toString());
      }
    }
  }
}
