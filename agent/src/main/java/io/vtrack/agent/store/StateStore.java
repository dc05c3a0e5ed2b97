package io.vtrack.agent.store;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;

/**
 * The agent's SQLite state store ({@code <stateDir>/state.db}): one repository per table group,
 * sharing one connection. A transition that touches more than one row goes through {@link
 * #transaction}, so that a kill at any point leaves all of it or none of it.
 *
 * <p>Every method blocks on JDBC: call it from a worker, never from an event-loop thread.
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
          """,
          // v4: the spec that runs now and the one the last healthy commit ran with, so that a
          // rollback goes back to both, and a spec change alone rolls out.
          """
          ALTER TABLE deployments ADD COLUMN running_spec_json TEXT;
          ALTER TABLE deployments ADD COLUMN last_healthy_spec_json TEXT;
          """,
          // v5: blue-green instances (a commit started once in a colour, with its ports).
          """
          CREATE TABLE instances (
            deployment TEXT NOT NULL,
            colour TEXT NOT NULL,
            commit_sha TEXT NOT NULL,
            role TEXT NOT NULL,
            ports_json TEXT NOT NULL,
            spec_json TEXT,
            rollout_id INTEGER,
            started_at TEXT NOT NULL,
            warm_until TEXT,
            PRIMARY KEY (deployment, colour)
          );
          """,
          // v6: the folder of its commit each release was exported from (spec.source.path).
          """
          CREATE TABLE releases (
            deployment TEXT NOT NULL,
            commit_sha TEXT NOT NULL,
            source_path TEXT NOT NULL,
            PRIMARY KEY (deployment, commit_sha)
          );
          """,
          // v7: a rollback asked for while the rollout ran (it stops the rollout).
          """
          ALTER TABLE rollouts ADD COLUMN stop_by TEXT;
          ALTER TABLE rollouts ADD COLUMN stop_stage TEXT;
          ALTER TABLE rollouts ADD COLUMN stop_restore INTEGER;
          ALTER TABLE rollouts ADD COLUMN stop_at TEXT;
          """);

  /** Work done inside a transaction. */
  @FunctionalInterface
  public interface Work<T> {
    T run() throws SQLException;
  }

  private final Db db;
  private final DeploymentRepository deployments;
  private final CommitRepository commits;
  private final RolloutRepository rollouts;
  private final BackupRepository backups;
  private final ProcessRepository processes;
  private final EventRepository events;
  private final InstanceRepository instances;
  private final ReleaseRepository releases;
  private final Path folder;

  private StateStore(Connection conn, Path folder) {
    this.folder = folder;
    this.db = new Db(conn);
    this.deployments = new DeploymentRepository(db);
    this.commits = new CommitRepository(db);
    this.rollouts = new RolloutRepository(db);
    this.backups = new BackupRepository(db);
    this.processes = new ProcessRepository(db);
    this.events = new EventRepository(db);
    this.instances = new InstanceRepository(db);
    this.releases = new ReleaseRepository(db);
  }

  /** The state folder this store lives in (absolute). */
  public Path folder() {
    return folder;
  }

  /** The store's file in a state folder. */
  public static Path file(Path stateDir) {
    return stateDir.resolve("state.db");
  }

  /**
   * Opens (creating when missing, readable by the agent's user only) the store at {@code
   * <stateDir>/state.db} and migrates it. A file that cannot be opened is named in the error, with
   * what to do about it.
   */
  /**
   * Creates the state folder when missing, readable by its owner only: it holds the API token, the
   * store and copies of the apps' data.
   */
  public static void createFolder(Path stateDir) throws IOException {
    if (Files.exists(stateDir) && !Files.isDirectory(stateDir)) {
      throw new NotDirectoryException(stateDir.toString());
    }
    if (!Files.exists(stateDir)) {
      Files.createDirectories(stateDir);
      restrict(stateDir, "rwx------");
    }
  }

  public static StateStore open(Path stateDir) throws SQLException {
    Path file = file(stateDir);
    try {
      createFolder(stateDir);
      if (!Files.exists(file)) {
        Files.createFile(file);
        restrict(file, "rw-------");
      }
    } catch (IOException e) {
      throw new SQLException("cannot create the state store " + file + ": " + e.getMessage(), e);
    }
    Connection c = DriverManager.getConnection("jdbc:sqlite:" + file);
    StateStore store = new StateStore(c, stateDir.toAbsolutePath().normalize());
    try {
      try (Statement st = c.createStatement()) {
        st.execute("PRAGMA busy_timeout=5000");
        st.execute("PRAGMA journal_mode=WAL");
        // FULL: a commit is on the disk when it returns (NORMAL, in WAL mode, loses the last ones
        // to a power loss), so a revision recorded healthy or quarantined, or a backup recorded
        // taken, stays so. The store writes a few rows per rollout round, not per request.
        st.execute("PRAGMA synchronous=FULL");
        st.execute("PRAGMA foreign_keys=ON");
        try (ResultSet rs = st.executeQuery("PRAGMA quick_check")) {
          String ok = rs.next() ? rs.getString(1) : "no answer";
          if (!"ok".equals(ok)) {
            throw new SQLException("quick_check: " + ok);
          }
        }
      }
      store.migrate();
    } catch (SQLException e) {
      c.close();
      throw new SQLException(
          "the state store "
              + file
              + " cannot be used ("
              + e.getMessage()
              + "). Nothing was changed and the app keeps running. Restore the file from a copy,"
              + " or move it away to start with an empty store (the agent then refuses to start"
              + " while processes it started are still running).",
          e);
    }
    return store;
  }

  private static void restrict(Path p, String perms) {
    try {
      Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(perms));
    } catch (IOException | UnsupportedOperationException e) {
      // Not a POSIX file system: nothing to restrict.
    }
  }

  private void migrate() throws SQLException {
    Connection conn = db.connection();
    synchronized (db) {
      try (Statement st = conn.createStatement()) {
        st.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
        int version = schemaVersion();
        for (int v = version; v < MIGRATIONS.size(); v++) {
          int next = v;
          db.inTransaction(
              () -> {
                for (String sql : MIGRATIONS.get(next).split(";")) {
                  if (!sql.isBlank()) {
                    st.execute(sql);
                  }
                }
                st.execute("INSERT INTO schema_version(version) VALUES (" + (next + 1) + ")");
                return null;
              });
        }
      }
    }
  }

  /** The value of {@code PRAGMA name} on the store's connection (a setting, for tests). */
  String pragma(String name) throws SQLException {
    return db.first("PRAGMA " + name, rs -> rs.getString(1)).orElse(null);
  }

  public int schemaVersion() throws SQLException {
    List<String> v = db.strings("SELECT MAX(version) FROM schema_version");
    return v.isEmpty() || v.get(0) == null ? 0 : Integer.parseInt(v.get(0));
  }

  /**
   * Runs {@code work} as one transaction: every row it writes through the repositories is stored,
   * or none is.
   */
  public <T> T transaction(Work<T> work) throws SQLException {
    return db.inTransaction(work);
  }

  public DeploymentRepository deployments() {
    return deployments;
  }

  public CommitRepository commits() {
    return commits;
  }

  public RolloutRepository rollouts() {
    return rollouts;
  }

  public BackupRepository backups() {
    return backups;
  }

  public ProcessRepository processes() {
    return processes;
  }

  public EventRepository events() {
    return events;
  }

  public ReleaseRepository releases() {
    return releases;
  }

  public InstanceRepository instances() {
    return instances;
  }

  @Override
  public void close() throws SQLException {
    synchronized (db) {
      db.connection().close();
    }
  }
}
