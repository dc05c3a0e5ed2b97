package io.vtrack.agent.release;

import java.sql.SQLException;

/**
 * Which folder of its commit ({@code spec.source.path}, normalized; {@code ""}: the root) each
 * release was exported from, kept in the state store so that {@code releases/} holds only releases.
 */
public interface ReleaseSources {
  /** The folder {@code releases/<commit>/} of {@code deployment} was exported from, or null. */
  String exportedFrom(String deployment, String commit) throws SQLException;

  /** Records the folder the release about to take its name was exported from. */
  void exported(String deployment, String commit, String folder) throws SQLException;
}
