package io.vtrack.agent.store;

import io.vtrack.agent.release.ReleaseSources;
import java.sql.SQLException;
import java.util.Collection;
import java.util.List;

/** The {@code releases} table: the folder of its commit each release was exported from. */
public final class ReleaseRepository implements ReleaseSources {
  private final Db db;

  ReleaseRepository(Db db) {
    this.db = db;
  }

  @Override
  public String exportedFrom(String deployment, String commit) throws SQLException {
    List<String> path =
        db.strings(
            "SELECT source_path FROM releases WHERE deployment = ? AND commit_sha = ?",
            deployment,
            commit);
    return path.isEmpty() ? null : path.get(0);
  }

  @Override
  public void exported(String deployment, String commit, String folder) throws SQLException {
    db.update(
        "INSERT OR REPLACE INTO releases(deployment, commit_sha, source_path) VALUES (?,?,?)",
        deployment,
        commit,
        folder);
  }

  /** Forgets the releases of {@code commits} (pruned from the disk). */
  public void forget(String deployment, Collection<String> commits) throws SQLException {
    for (String c : commits) {
      db.update("DELETE FROM releases WHERE deployment = ? AND commit_sha = ?", deployment, c);
    }
  }
}
