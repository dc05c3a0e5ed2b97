package io.vtrack.agent.store;

import java.sql.SQLException;
import java.util.List;
import java.util.Optional;

/**
 * The {@code commits} table: per deployment, the commits verified healthy here (with the baselines
 * their verification recorded) and the commits quarantined under a generation.
 */
public final class CommitRepository {
  /** What the agent knows of a commit. */
  public enum CommitState {
    verified,
    quarantined
  }

  private final Db db;

  CommitRepository(Db db) {
    this.db = db;
  }

  public void markVerified(String deployment, String commit, String baselineJson)
      throws SQLException {
    db.update(
        "INSERT INTO commits(deployment, commit_sha, state, baseline_json, at) VALUES (?,?,?,?,?)"
            + " ON CONFLICT(deployment, commit_sha) DO UPDATE SET state=excluded.state, reason=NULL,"
            + " generation=NULL, baseline_json=COALESCE(excluded.baseline_json, commits.baseline_json),"
            + " at=excluded.at",
        deployment,
        commit,
        CommitState.verified,
        baselineJson,
        Db.now());
  }

  public void quarantine(String deployment, String commit, String generation, String reason)
      throws SQLException {
    db.update(
        "INSERT INTO commits(deployment, commit_sha, state, generation, reason, at) VALUES (?,?,?,?,?,?)"
            + " ON CONFLICT(deployment, commit_sha) DO UPDATE SET state=excluded.state,"
            + " generation=excluded.generation, reason=excluded.reason, at=excluded.at",
        deployment,
        commit,
        CommitState.quarantined,
        generation,
        reason,
        Db.now());
  }

  /**
   * Lifts every quarantine of a deployment. A commit that was verified before keeps nothing: it
   * must be verified again, so its row is removed rather than turned back to verified.
   */
  public int clearQuarantine(String deployment) throws SQLException {
    return db.update(
        "DELETE FROM commits WHERE deployment = ? AND state = ?",
        deployment,
        CommitState.quarantined);
  }

  /** Commits verified healthy here, newest first. */
  public List<String> verified(String deployment) throws SQLException {
    return db.strings(
        "SELECT commit_sha FROM commits WHERE deployment = ? AND state = ?"
            + " ORDER BY at DESC, rowid DESC",
        deployment,
        CommitState.verified);
  }

  /** Commits quarantined under the given generation, newest first. */
  public List<String> quarantined(String deployment, String generation) throws SQLException {
    return db.strings(
        "SELECT commit_sha FROM commits WHERE deployment = ? AND state = ? AND generation = ?"
            + " ORDER BY at DESC, rowid DESC",
        deployment,
        CommitState.quarantined,
        generation);
  }

  /** Why a commit was quarantined, or empty when it is not. */
  public Optional<String> quarantineReason(String deployment, String commit) throws SQLException {
    return db.first(
        "SELECT reason FROM commits WHERE deployment = ? AND commit_sha = ? AND state = ?",
        rs -> rs.getString(1),
        deployment,
        commit,
        CommitState.quarantined);
  }

  public Optional<String> baseline(String deployment, String commit) throws SQLException {
    return db.first(
        "SELECT baseline_json FROM commits WHERE deployment = ? AND commit_sha = ?"
            + " AND baseline_json IS NOT NULL",
        rs -> rs.getString(1),
        deployment,
        commit);
  }
}
