package io.vtrack.agent.backup;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Arrays;

/**
 * Consistent copies of live SQLite databases. {@code VACUUM INTO} copies in one read transaction,
 * so an app writing in WAL mode is never blocked and the copy never restarts (unlike the page-step
 * online backup, which starts over on every write). Blocking.
 */
public final class SqliteBackup {
  /**
   * The files SQLite keeps beside a database ({@code <db>-wal}, {@code -shm}, and the rollback
   * journal, hot when a writer died in a transaction): they belong to that file and go with it.
   */
  static final java.util.List<String> SIDE_FILES = java.util.List.of("-wal", "-shm", "-journal");

  private static final byte[] HEADER = "SQLite format 3\0".getBytes(StandardCharsets.UTF_8);

  private SqliteBackup() {}

  /** Whether {@code f} is a regular file that starts as an SQLite database does. */
  public static boolean isDatabase(Path f) throws IOException {
    if (!Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS)) {
      return false;
    }
    try (InputStream in = Files.newInputStream(f)) {
      return Arrays.equals(in.readNBytes(HEADER.length), HEADER);
    }
  }

  /** Whether {@code f} is the {@code -wal}, {@code -shm} or {@code -journal} of a database. */
  static boolean isSideFile(Path f) throws IOException {
    String name = f.getFileName().toString();
    for (String suffix : SIDE_FILES) {
      if (name.endsWith(suffix) && name.length() > suffix.length()) {
        return isDatabase(f.resolveSibling(name.substring(0, name.length() - suffix.length())));
      }
    }
    return false;
  }

  /** Copies {@code db} into {@code dest} (which must not exist) within {@code timeout}. */
  public static void copy(Path db, Path dest, Duration timeout) throws SQLException, IOException {
    Files.createDirectories(dest.getParent());
    // A read-write handle, though nothing is written: a read-only one cannot open a WAL database
    // whose -shm file is missing.
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db);
        Statement st = c.createStatement()) {
      st.execute("PRAGMA busy_timeout=" + Math.max(1000, timeout.toMillis()));
      st.setQueryTimeout((int) Math.max(1, timeout.toSeconds()));
      st.execute("VACUUM INTO '" + dest.toString().replace("'", "''") + "'");
    }
  }

  /** {@code PRAGMA integrity_check} of a database file: "ok" or the first problems found. */
  public static String integrityCheck(Path db) throws SQLException {
    try (Connection c = readOnly(db);
        Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("PRAGMA integrity_check")) {
      StringBuilder sb = new StringBuilder();
      int n = 0;
      while (rs.next() && n++ < 5) {
        if (sb.length() > 0) {
          sb.append("; ");
        }
        sb.append(rs.getString(1));
      }
      return sb.toString();
    }
  }

  /** Runs a query returning one value against a database file opened read-only. */
  public static String queryValue(Path db, String query, Duration timeout) throws SQLException {
    try (Connection c = readOnly(db);
        Statement st = c.createStatement()) {
      st.execute("PRAGMA busy_timeout=" + Math.max(100, timeout.toMillis()));
      st.setQueryTimeout((int) Math.max(1, timeout.toSeconds()));
      try (ResultSet rs = st.executeQuery(query)) {
        return rs.next() ? rs.getString(1) : null;
      }
    }
  }

  /**
   * A connection that refuses to change the database (query_only), without opening it read-only.
   */
  public static Connection readOnly(Path db) throws SQLException {
    if (!Files.exists(db)) {
      throw new SQLException("database " + db + " does not exist");
    }
    Connection c = DriverManager.getConnection("jdbc:sqlite:" + db);
    try (Statement st = c.createStatement()) {
      st.execute("PRAGMA query_only=1");
    }
    return c;
  }
}
