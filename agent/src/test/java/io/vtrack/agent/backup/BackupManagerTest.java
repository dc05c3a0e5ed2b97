package io.vtrack.agent.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vtrack.agent.model.BackupSpec;
import io.vtrack.agent.release.DeploymentPaths;
import io.vtrack.agent.store.StateStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Backups of a real SQLite database in WAL mode while a writer keeps writing. */
class BackupManagerTest {
  @TempDir Path dir;

  private static long count(Path db) throws Exception {
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db);
        Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT COUNT(*) FROM rows")) {
      return rs.getLong(1);
    }
  }

  @Test
  void backsUpWhileTheAppWritesAndRestoresKeepingTheFailedCopy() throws Exception {
    DeploymentPaths paths = new DeploymentPaths(dir.resolve("dep"), dir);
    Path db = paths.shared().resolve("data/app.db");
    Files.createDirectories(db.getParent());
    Files.writeString(paths.shared().resolve(".env"), "A=1\n");
    AtomicBoolean stop = new AtomicBoolean();
    AtomicInteger written = new AtomicInteger();
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db);
        Statement st = c.createStatement()) {
      st.execute("PRAGMA journal_mode=WAL");
      st.execute("CREATE TABLE rows (id INTEGER PRIMARY KEY, payload TEXT)");
      for (int i = 0; i < 2000; i++) {
        st.execute("INSERT INTO rows(payload) VALUES (hex(randomblob(64)))");
      }
    }
    Thread writer =
        new Thread(
            () -> {
              try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db);
                  Statement st = c.createStatement()) {
                st.execute("PRAGMA busy_timeout=5000");
                while (!stop.get()) {
                  st.execute("INSERT INTO rows(payload) VALUES ('live')");
                  written.incrementAndGet();
                }
              } catch (Exception e) {
                throw new RuntimeException(e);
              }
            });
    writer.start();
    BackupManager.BackupResult b;
    try (StateStore store = StateStore.open(dir.resolve("state"))) {
      BackupManager mgr = new BackupManager(store, Duration.ofSeconds(30));
      BackupSpec spec = new BackupSpec(List.of("data/app.db"), List.of(".env"), 2);
      b = mgr.take("dep", 7, paths, spec);
      stop.set(true);
      writer.join();
      assertThat(written.get()).as("the writer was never blocked for long").isPositive();
      assertThat(b.integrity()).contains("ok");
      long inBackup = count(paths.backup(7).resolve("data/app.db"));
      assertThat(inBackup).isGreaterThanOrEqualTo(2000);
      assertThat(store.backups().get(7)).isPresent();

      // A "migration" deletes rows; the restore brings the backup back and keeps the damage aside.
      try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db);
          Statement st = c.createStatement()) {
        st.execute("DELETE FROM rows WHERE id > 10");
      }
      Files.writeString(paths.shared().resolve(".env"), "A=broken\n");
      mgr.restore(paths, 7, spec);
      assertThat(count(db)).isEqualTo(inBackup);
      assertThat(Files.exists(Path.of(db + "-wal"))).isFalse();
      assertThat(Files.exists(Path.of(db + "-shm"))).isFalse();
      assertThat(Files.readString(paths.shared().resolve(".env"))).isEqualTo("A=1\n");
      Path failed = paths.backup(7).resolve("failed");
      assertThat(count(failed.resolve("data/app.db"))).isEqualTo(10);
      assertThat(Files.readString(failed.resolve(".env"))).isEqualTo("A=broken\n");
      assertThat(SqliteBackup.integrityCheck(db)).isEqualTo("ok");

      // Restored again (a resumed rollback): the data of the failure is never overwritten.
      BackupManager.Restored again = mgr.restore(paths, 7, spec);
      assertThat(again.failedDir()).isEqualTo(paths.backup(7).resolve("failed-2"));
      assertThat(count(failed.resolve("data/app.db"))).isEqualTo(10);
      assertThat(Files.readString(failed.resolve(".env"))).isEqualTo("A=broken\n");
      // Backups hold the app's data: the agent's user only.
      assertThat(
              java.nio.file.attribute.PosixFilePermissions.toString(
                  Files.getPosixFilePermissions(paths.backup(7))))
          .isEqualTo("rwx------");
    }
  }

  /**
   * An app in SQLite's default rollback-journal mode, killed in a transaction (a stop past its
   * timeout, a crash), leaves a hot journal. The restore moves it aside with the failed copy: the
   * next connection would play it back into the restored file.
   */
  @Test
  void aHotJournalTheFailedRevisionLeftGoesWithTheFailedCopy() throws Exception {
    DeploymentPaths paths = new DeploymentPaths(dir.resolve("dep"), dir);
    Path db = paths.shared().resolve("app.db");
    Files.createDirectories(db.getParent());
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db);
        Statement st = c.createStatement()) {
      st.execute("PRAGMA journal_mode=DELETE");
      st.execute("CREATE TABLE rows (id INTEGER PRIMARY KEY, payload TEXT)");
      st.execute(
          "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)"
              + " INSERT INTO rows(payload) SELECT hex(randomblob(64)) FROM n");
    }
    try (StateStore store = StateStore.open(dir.resolve("state"))) {
      BackupManager mgr = new BackupManager(store, Duration.ofSeconds(30));
      BackupSpec spec = new BackupSpec(List.of("app.db"), List.of(), 2);
      mgr.take("dep", 1, paths, spec);
      // The failed revision deletes half, then dies in a transaction whose pages spilled.
      Process app =
          new ProcessBuilder(
                  "python3",
                  "-c",
                  "import sqlite3, os\n"
                      + "c = sqlite3.connect('"
                      + db
                      + "', isolation_level=None)\n"
                      + "c.execute('DELETE FROM rows WHERE id > 1000')\n"
                      + "c.execute('PRAGMA cache_size=2')\n"
                      + "c.execute('BEGIN')\n"
                      + "c.execute(\"UPDATE rows SET payload = 'x' || payload\")\n"
                      + "os._exit(0)\n")
              .inheritIO()
              .start();
      assertThat(app.waitFor()).isZero();
      assertThat(Path.of(db + "-journal")).exists();

      BackupManager.Restored r = mgr.restore(paths, 1, spec);

      assertThat(count(db)).isEqualTo(2000);
      assertThat(SqliteBackup.integrityCheck(db)).isEqualTo("ok");
      assertThat(Path.of(db + "-journal")).doesNotExist();
      // The failed copy, with its journal, opens as the failed revision left it committed.
      assertThat(count(r.failedDir().resolve("app.db"))).isEqualTo(1000);
    }
  }

  /**
   * A database listed in backup.files instead of backup.sqlite, or found in a folder listed there,
   * is copied as a database: what its -wal holds is in the backup (a plain copy of the main file
   * lacked it), and the failed revision's -wal goes with the failed copy on restore (left beside
   * the restored file, it would be played back into it).
   */
  @Test
  void aDatabaseInBackupFilesIsCopiedAsOneWithWhatItsWalHolds() throws Exception {
    for (String listed : List.of("data/app.db", "data/")) {
      DeploymentPaths paths = new DeploymentPaths(dir.resolve(listed.replace('/', '_')), dir);
      Path db = paths.shared().resolve("data/app.db");
      Files.createDirectories(db.getParent());
      Files.writeString(db.resolveSibling("notes.txt"), "kept");
      // The running app: 500 rows, all still in its -wal (no checkpoint), connection open.
      Process app =
          new ProcessBuilder(
                  "python3",
                  "-c",
                  "import sqlite3, os, sys\n"
                      + "c = sqlite3.connect('"
                      + db
                      + "', isolation_level=None)\n"
                      + "c.execute('PRAGMA journal_mode=WAL')\n"
                      + "c.execute('PRAGMA wal_autocheckpoint=0')\n"
                      + "c.execute('CREATE TABLE rows (id INTEGER PRIMARY KEY, payload TEXT)')\n"
                      + "c.execute(\"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
                      + " WHERE i < 500) INSERT INTO rows(payload) SELECT hex(randomblob(64))"
                      + " FROM n\")\n"
                      + "print('ready', flush=True)\n"
                      + "sys.stdin.readline()\n"
                      + "c.execute('DELETE FROM rows WHERE id > 10')\n"
                      + "os._exit(0)\n")
              .redirectError(ProcessBuilder.Redirect.INHERIT)
              .start();
      try (var out =
          new java.io.BufferedReader(new java.io.InputStreamReader(app.getInputStream()))) {
        assertThat(out.readLine()).isEqualTo("ready");
      }
      assertThat(Path.of(db + "-wal")).exists();
      try (StateStore store = StateStore.open(paths.root().resolve("state"))) {
        BackupManager mgr = new BackupManager(store, Duration.ofSeconds(30));
        BackupSpec spec = new BackupSpec(List.of(), List.of(listed), 5);
        BackupManager.BackupResult b = mgr.take("dep", 1, paths, spec);

        Path saved = paths.backup(1).resolve("data/app.db");
        assertThat(count(saved)).as(listed).isEqualTo(500);
        assertThat(Path.of(saved + "-wal")).as(listed).doesNotExist();
        assertThat(b.integrity()).as(listed).isEqualTo("data/app.db: ok");

        // The failed revision deletes rows and dies, its -wal left beside the database.
        app.getOutputStream().write('\n');
        app.getOutputStream().close();
        assertThat(app.waitFor()).isZero();
        assertThat(Path.of(db + "-wal")).exists();

        BackupManager.Restored r = mgr.restore(paths, 1, spec);

        assertThat(count(db)).as(listed).isEqualTo(500);
        assertThat(SqliteBackup.integrityCheck(db)).isEqualTo("ok");
        assertThat(Path.of(db + "-wal")).as(listed).doesNotExist();
        assertThat(count(r.failedDir().resolve("data/app.db"))).as(listed).isEqualTo(10);
        if (listed.endsWith("/")) {
          assertThat(db.resolveSibling("notes.txt")).hasContent("kept");
        }
      }
    }
  }

  /**
   * backup.files entries that are not plain files: a link is kept as a link (a copy of what it
   * points to could be endless: /dev/zero), a pipe is left out (reading it waits for ever).
   */
  @Test
  void aLinkOrAPipeInBackupFilesIsNeitherFollowedNorRead() throws Exception {
    DeploymentPaths paths = new DeploymentPaths(dir.resolve("dep"), dir);
    Files.createDirectories(paths.shared());
    Files.createSymbolicLink(paths.shared().resolve("zero"), Path.of("/dev/zero"));
    assertThat(
            new ProcessBuilder("mkfifo", paths.shared().resolve("pipe").toString())
                .start()
                .waitFor())
        .isZero();
    try (StateStore store = StateStore.open(dir.resolve("state"))) {
      BackupManager mgr = new BackupManager(store, Duration.ofSeconds(30));
      BackupSpec spec = new BackupSpec(List.of(), List.of("zero", "pipe"), 5);
      BackupManager.BackupResult b =
          org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(
              Duration.ofMinutes(2), () -> mgr.take("dep", 1, paths, spec));
      assertThat(Files.readSymbolicLink(paths.backup(1).resolve("zero")))
          .isEqualTo(Path.of("/dev/zero"));
      assertThat(paths.backup(1).resolve("pipe")).doesNotExist();
      assertThat(b.notes()).anySatisfy(n -> assertThat(n).startsWith("pipe: neither a file"));

      // The failed revision replaced the link with a file: the link comes back, as a link.
      Files.delete(paths.shared().resolve("zero"));
      Files.writeString(paths.shared().resolve("zero"), "not a link");
      BackupManager.Restored r = mgr.restore(paths, 1, spec);
      assertThat(Files.readSymbolicLink(paths.shared().resolve("zero")))
          .isEqualTo(Path.of("/dev/zero"));
      assertThat(r.failedDir().resolve("zero")).hasContent("not a link");
      assertThat(paths.shared().resolve("pipe")).exists();

      // backup.sqlite naming a pipe is refused with its name, not waited on.
      BackupSpec db = new BackupSpec(List.of("pipe"), List.of(), 5);
      assertThatThrownBy(
              () ->
                  org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(
                      Duration.ofMinutes(2), () -> mgr.take("dep", 2, paths, db)))
          .hasMessageContaining("backup.sqlite: pipe is not a file");
    }
  }

  /**
   * A log the app keeps appending to, in a folder of backup.files: the backup holds it as it was a
   * moment before (a prefix of it), instead of failing every try because it grew while copied.
   */
  @Test
  void aLogAppendedToWhileItIsCopiedIsBackedUpAsItWas() throws Exception {
    DeploymentPaths paths = new DeploymentPaths(dir.resolve("dep"), dir);
    Path log = paths.shared().resolve("data/app.log");
    Files.createDirectories(log.getParent());
    byte[] line = "2026-12-05 INFO request served in 3 ms\n".getBytes();
    try (var out = Files.newOutputStream(log)) {
      for (int i = 0; i < 800_000; i++) {
        out.write(line);
      }
    }
    long before = Files.size(log);
    AtomicBoolean stop = new AtomicBoolean();
    AtomicInteger appended = new AtomicInteger();
    Thread app =
        new Thread(
            () -> {
              try (var out = Files.newOutputStream(log, java.nio.file.StandardOpenOption.APPEND)) {
                while (!stop.get()) {
                  out.write(line);
                  out.flush();
                  appended.incrementAndGet();
                }
              } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
              }
            });
    app.start();
    try (StateStore store = StateStore.open(dir.resolve("state"))) {
      BackupManager mgr = new BackupManager(store, Duration.ofSeconds(30));
      long id = 0;
      for (String listed : List.of("data/", "data/app.log")) {
        id++;
        mgr.take("dep", id, paths, new BackupSpec(List.of(), List.of(listed), 5));
        Path copy = paths.backup(id).resolve("data/app.log");
        assertThat(Files.size(copy)).as(listed).isGreaterThanOrEqualTo(before);
        byte[] now = Files.readAllBytes(log);
        byte[] saved = Files.readAllBytes(copy);
        assertThat(java.util.Arrays.copyOf(now, saved.length)).as(listed).isEqualTo(saved);
      }
    } finally {
      stop.set(true);
      app.join();
    }
    assertThat(appended.get()).as("the app kept writing").isPositive();
  }

  /** A folder in backup.files (users' uploads) is backed up and restored whole. */
  @Test
  void aFolderInBackupFilesIsBackedUpAndRestoredWhole() throws Exception {
    DeploymentPaths paths = new DeploymentPaths(dir.resolve("dep"), dir);
    Path uploads = paths.shared().resolve("uploads");
    Files.createDirectories(uploads.resolve("2026/12"));
    Files.writeString(uploads.resolve("a.txt"), "first upload");
    Files.writeString(uploads.resolve("2026/12/b.bin"), "second upload");
    Files.createSymbolicLink(uploads.resolve("latest"), Path.of("2026/12/b.bin"));
    try (StateStore store = StateStore.open(dir.resolve("state"))) {
      BackupManager mgr = new BackupManager(store, Duration.ofSeconds(30));
      for (String listed : List.of("uploads/", "uploads")) {
        BackupSpec spec = new BackupSpec(List.of(), List.of(listed), 5);
        long id = listed.endsWith("/") ? 1 : 2;
        BackupManager.BackupResult b = mgr.take("dep", id, paths, spec);
        assertThat(b.sizeBytes()).as(listed).isEqualTo(25);

        // The failed revision deletes one upload, rewrites another and adds a third.
        Files.delete(uploads.resolve("a.txt"));
        Files.writeString(uploads.resolve("2026/12/b.bin"), "overwritten");
        Files.writeString(uploads.resolve("c.txt"), "written by the failed revision");
        BackupManager.Restored r = mgr.restore(paths, id, spec);

        assertThat(uploads.resolve("a.txt")).hasContent("first upload");
        assertThat(uploads.resolve("2026/12/b.bin")).hasContent("second upload");
        assertThat(uploads.resolve("c.txt")).doesNotExist();
        assertThat(Files.readSymbolicLink(uploads.resolve("latest")))
            .isEqualTo(Path.of("2026/12/b.bin"));
        Path failed = r.failedDir().resolve("uploads");
        assertThat(failed.resolve("c.txt")).hasContent("written by the failed revision");
        assertThat(failed.resolve("2026/12/b.bin")).hasContent("overwritten");
        assertThat(failed.resolve("a.txt")).doesNotExist();
      }
    }
  }

  /**
   * A database of backup.sqlite inside a folder of backup.files comes back from its consistent
   * copy, not from the folder's, and the failure's copy of both is kept.
   */
  @Test
  void aDatabaseInsideABackedUpFolderComesBackFromItsOwnCopy() throws Exception {
    DeploymentPaths paths = new DeploymentPaths(dir.resolve("dep"), dir);
    Path db = paths.shared().resolve("data/app.db");
    Files.createDirectories(db.getParent());
    Files.writeString(db.resolveSibling("notes.txt"), "kept");
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db);
        Statement st = c.createStatement()) {
      st.execute("PRAGMA journal_mode=WAL");
      st.execute("CREATE TABLE rows (id INTEGER PRIMARY KEY)");
      st.execute("INSERT INTO rows VALUES (1), (2), (3)");
    }
    try (StateStore store = StateStore.open(dir.resolve("state"))) {
      BackupManager mgr = new BackupManager(store, Duration.ofSeconds(30));
      BackupSpec spec = new BackupSpec(List.of("data/app.db"), List.of("data/"), 5);
      mgr.take("dep", 1, paths, spec);
      assertThat(paths.backup(1).resolve("data/notes.txt")).hasContent("kept");
      try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db);
          Statement st = c.createStatement()) {
        st.execute("DELETE FROM rows WHERE id > 1");
      }
      Files.delete(db.resolveSibling("notes.txt"));

      BackupManager.Restored r = mgr.restore(paths, 1, spec);

      assertThat(count(db)).isEqualTo(3);
      assertThat(SqliteBackup.integrityCheck(db)).isEqualTo("ok");
      assertThat(db.resolveSibling("notes.txt")).hasContent("kept");
      assertThat(count(r.failedDir().resolve("data/app.db"))).isEqualTo(1);

      // A snapshot preview's copy: the folder and its database, each from its own copy.
      DeploymentPaths preview = new DeploymentPaths(dir.resolve("preview"), dir);
      PreviewCopy.Made made =
          PreviewCopy.make(paths, 1, spec, List.of("data/"), preview, Duration.ofSeconds(30));
      assertThat(count(made.shared().resolve("data/app.db"))).isEqualTo(3);
      assertThat(made.shared().resolve("data/notes.txt")).hasContent("kept");
    }
  }

  /** A snapshot preview's copy takes a folder of backup.files from the backup, like a file. */
  @Test
  void aPreviewCopyTakesAFolderOfBackupFilesFromTheBackup() throws Exception {
    DeploymentPaths paths = new DeploymentPaths(dir.resolve("dep"), dir);
    Path uploads = paths.shared().resolve("data/uploads");
    Files.createDirectories(uploads);
    Files.writeString(uploads.resolve("a.txt"), "in the backup");
    Files.writeString(paths.shared().resolve("data/conf"), "live");
    try (StateStore store = StateStore.open(dir.resolve("state"))) {
      BackupManager mgr = new BackupManager(store, Duration.ofSeconds(30));
      BackupSpec spec = new BackupSpec(List.of(), List.of("data/uploads/"), 5);
      mgr.take("dep", 1, paths, spec);
      Files.writeString(uploads.resolve("later.txt"), "written after the backup");

      DeploymentPaths preview = new DeploymentPaths(dir.resolve("preview"), dir);
      PreviewCopy.Made made =
          PreviewCopy.make(paths, 1, spec, List.of("data/"), preview, Duration.ofSeconds(30));

      assertThat(made.shared().resolve("data/uploads/a.txt")).hasContent("in the backup");
      assertThat(made.shared().resolve("data/uploads/later.txt")).doesNotExist();
      assertThat(made.shared().resolve("data/conf")).hasContent("live");
    }
  }

  @Test
  void keepsTheNewestBackupsAndNeverTheFailedCopies() throws Exception {
    DeploymentPaths paths = new DeploymentPaths(dir.resolve("dep"), dir);
    Files.createDirectories(paths.shared());
    Files.writeString(paths.shared().resolve("conf"), "x");
    try (StateStore store = StateStore.open(dir.resolve("state"))) {
      BackupManager mgr = new BackupManager(store, Duration.ofSeconds(30));
      BackupSpec spec = new BackupSpec(List.of(), List.of("conf"), 2);
      mgr.take("dep", 1, paths, spec);
      mgr.restore(paths, 1, spec);
      Files.writeString(paths.shared().resolve("conf"), "x");
      mgr.take("dep", 2, paths, spec);
      mgr.take("dep", 3, paths, spec);
      assertThat(store.backups().list("dep"))
          .extracting(io.vtrack.agent.store.BackupRepository.BackupRow::rolloutId)
          .containsExactly(3L, 2L);
      assertThat(paths.backup(1).resolve("failed/conf")).exists();
      assertThat(paths.backup(1).resolve("conf")).doesNotExist();
    }
  }

  /** A backup restored twice holds failed/ and failed-2/: both are data, both outlive it. */
  @Test
  void aBackupThatGoesKeepsEveryFailedCopyOfIt() throws Exception {
    DeploymentPaths paths = new DeploymentPaths(dir.resolve("dep"), dir);
    Files.createDirectories(paths.shared());
    try (StateStore store = StateStore.open(dir.resolve("state"))) {
      BackupManager mgr = new BackupManager(store, Duration.ofSeconds(30));
      BackupSpec spec = new BackupSpec(List.of(), List.of("conf"), 1);
      Files.writeString(paths.shared().resolve("conf"), "before");
      mgr.take("dep", 1, paths, spec);
      Files.writeString(paths.shared().resolve("conf"), "first failure");
      mgr.restore(paths, 1, spec);
      Files.writeString(paths.shared().resolve("conf"), "second failure");
      mgr.restore(paths, 1, spec);
      mgr.take("dep", 2, paths, spec);
      assertThat(paths.backup(1).resolve("failed/conf")).hasContent("first failure");
      assertThat(paths.backup(1).resolve("failed-2/conf")).hasContent("second failure");
      assertThat(paths.backup(1).resolve("conf")).doesNotExist();
    }
  }

  /**
   * A state store replaced by an older copy numbers its next rollouts as earlier ones were: a
   * backup taken under a number whose folder holds a failure's data leaves that data where it is.
   */
  @Test
  void aBackupTakenAgainUnderItsNumberKeepsTheFailedCopyThere() throws Exception {
    DeploymentPaths paths = new DeploymentPaths(dir.resolve("dep"), dir);
    Files.createDirectories(paths.shared());
    try (StateStore store = StateStore.open(dir.resolve("state"))) {
      BackupManager mgr = new BackupManager(store, Duration.ofSeconds(30));
      BackupSpec spec = new BackupSpec(List.of(), List.of("conf"), 3);
      Files.writeString(paths.shared().resolve("conf"), "before");
      mgr.take("dep", 1, paths, spec);
      Files.writeString(paths.shared().resolve("conf"), "the failure's");
      mgr.restore(paths, 1, spec);
      Files.writeString(paths.shared().resolve("conf"), "later");
      store.backups().delete(1);
      mgr.take("dep", 1, paths, spec);
      assertThat(paths.backup(1).resolve("failed/conf")).hasContent("the failure's");
      assertThat(paths.backup(1).resolve("conf")).hasContent("later");
      Files.writeString(paths.shared().resolve("conf"), "a second failure's");
      assertThat(mgr.restore(paths, 1, spec).failedDir())
          .isEqualTo(paths.backup(1).resolve("failed-2"));
      assertThat(paths.shared().resolve("conf")).hasContent("later");
    }
  }

  /**
   * An older backup that cannot be removed (here a file the kernel keeps immutable) leaves the new
   * backup taken: pruning is housekeeping, and the backup says what it left.
   */
  @Test
  void aBackupThatCannotPruneTheOlderOnesIsTakenAndSaysSo() throws Exception {
    DeploymentPaths paths = new DeploymentPaths(dir.resolve("dep"), dir);
    Files.createDirectories(paths.shared());
    Files.writeString(paths.shared().resolve("conf"), "v1");
    try (StateStore store = StateStore.open(dir.resolve("state"))) {
      BackupManager mgr = new BackupManager(store, Duration.ofSeconds(30));
      BackupSpec spec = new BackupSpec(List.of(), List.of("conf"), 1);
      mgr.take("dep", 1, paths, spec);
      Path stuck = paths.backup(1).resolve("conf");
      assumeTrue(chattr("+i", stuck), "chattr +i works on this file system");
      try {
        Files.writeString(paths.shared().resolve("conf"), "v2");
        BackupManager.BackupResult b = mgr.take("dep", 2, paths, spec);
        assertThat(b.notes()).anyMatch(n -> n.startsWith("older backups were not pruned"));
        assertThat(paths.backup(2).resolve("conf")).hasContent("v2");
        assertThat(store.backups().get(2)).isPresent();
      } finally {
        chattr("-i", stuck);
      }
    }
  }

  private static boolean chattr(String flag, Path file) throws Exception {
    try {
      Process p =
          new ProcessBuilder("chattr", flag, file.toString())
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.DISCARD)
              .start();
      return p.waitFor() == 0;
    } catch (java.io.IOException noChattr) {
      return false;
    }
  }

  @Test
  void failedCopiesAreBoundedByRetentionNewestKept() throws Exception {
    DeploymentPaths paths = new DeploymentPaths(dir.resolve("dep"), dir);
    Files.createDirectories(paths.shared());
    try (StateStore store = StateStore.open(dir.resolve("state"))) {
      BackupManager mgr = new BackupManager(store, Duration.ofSeconds(30), 2);
      BackupSpec spec = new BackupSpec(List.of(), List.of("conf"), 1);
      for (long id = 1; id <= 5; id++) {
        Files.writeString(paths.shared().resolve("conf"), "v" + id);
        mgr.take("dep", id, paths, spec);
        Files.writeString(paths.shared().resolve("conf"), "written by failed rollout " + id);
        mgr.restore(paths, id, spec);
      }
      mgr.take("dep", 6, paths, spec);
      // The two newest failures keep their data; older folders went with their backups.
      assertThat(paths.backup(5).resolve("failed/conf")).hasContent("written by failed rollout 5");
      assertThat(paths.backup(4).resolve("failed/conf")).hasContent("written by failed rollout 4");
      assertThat(paths.backup(3)).doesNotExist();
      assertThat(paths.backup(1)).doesNotExist();
      assertThat(paths.backup(6).resolve("conf")).hasContent("v5");
    }
  }

  @Test
  void aDatabaseThatDidNotExistIsMovedAsideOnRestore() throws Exception {
    DeploymentPaths paths = new DeploymentPaths(dir.resolve("dep"), dir);
    Files.createDirectories(paths.shared());
    try (StateStore store = StateStore.open(dir.resolve("state"))) {
      BackupManager mgr = new BackupManager(store, Duration.ofSeconds(30));
      BackupSpec spec = new BackupSpec(List.of("new.db"), List.of(), 3);
      BackupManager.BackupResult b = mgr.take("dep", 1, paths, spec);
      assertThat(b.notes()).anyMatch(n -> n.contains("no database yet"));
      Files.writeString(paths.shared().resolve("new.db"), "created by the failed revision");
      mgr.restore(paths, 1, spec);
      assertThat(paths.shared().resolve("new.db")).doesNotExist();
      assertThat(paths.backup(1).resolve("failed/new.db")).exists();
    }
  }
}
