package io.vtrack.agent.backup;

import io.vtrack.agent.DurableFiles;
import io.vtrack.agent.model.BackupSpec;
import io.vtrack.agent.model.Quantities;
import io.vtrack.agent.release.DeploymentPaths;
import io.vtrack.agent.release.ReleaseBuilder;
import io.vtrack.agent.store.BackupRepository;
import io.vtrack.agent.store.StateStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Takes the data backup before every switch and restores it on rollback. A backup lives in {@code
 * backups/<rollout-id>/} with the shared paths' layout; a restore first moves the data as it was at
 * failure to {@code backups/<rollout-id>/failed/}, so nothing a user had is thrown away. Blocking.
 */
public final class BackupManager {
  private static final Logger LOG = LoggerFactory.getLogger(BackupManager.class);
  private static final FileAttribute<?> OWNER_ONLY_DIR =
      PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"));

  public static final String MISSING_MARKER = ".absent";

  private final StateStore store;
  private final Duration timeout;
  private final BackupRetention retention;

  public BackupManager(StateStore store, Duration timeout) {
    this(store, timeout, 10);
  }

  /**
   * {@code failedCopies}: how many copies of the data as it was at a failure ({@code failed/}) are
   * kept per deployment, newest first; they outlive their backup until newer failures replace them.
   */
  public BackupManager(StateStore store, Duration timeout, int failedCopies) {
    this.store = store;
    this.timeout = timeout;
    this.retention = new BackupRetention(store, failedCopies);
  }

  /** What a backup holds, for status and history. */
  public record BackupResult(Path dir, long sizeBytes, String integrity, List<String> notes) {}

  /** Thrown when a backup cannot be taken; the rollout fails before anything is touched. */
  public static final class BackupFailedException extends Exception {
    private final boolean insufficientDisk;

    public BackupFailedException(String message, Throwable cause) {
      this(message, cause, false);
    }

    BackupFailedException(String message, Throwable cause, boolean insufficientDisk) {
      super(message, cause);
      this.insufficientDisk = insufficientDisk;
    }

    /** The disk is too full to take it: the agent's problem, retried when space is free. */
    public boolean insufficientDisk() {
      return insufficientDisk;
    }
  }

  public BackupResult take(
      String deployment, long rolloutId, DeploymentPaths paths, BackupSpec spec)
      throws BackupFailedException {
    Path dir = paths.backup(rolloutId);
    List<String> notes = new ArrayList<>();
    try {
      // What an attempt of this rollout left. (A failed copy found here stays: the store was
      // replaced by an older copy, so this rollout's number was another's, whose failure it
      // kept.)
      BackupRetention.clear(dir);
      // Backups hold the app's data: readable by the agent's user only.
      Files.createDirectories(dir, OWNER_ONLY_DIR);
      long needed = 0;
      for (String rel : concat(spec.sqlite(), spec.files())) {
        Path src = paths.shared().resolve(rel);
        if (FolderCopy.isFolder(src)) {
          needed += FolderCopy.size(src);
        } else if (Files.isRegularFile(src)) {
          needed += Files.size(src);
          Path wal = Path.of(src + "-wal");
          if (Files.exists(wal)) {
            needed += Files.size(wal);
          }
        }
      }
      requireFree(dir, needed, "the backup");
      long size = 0;
      List<String> integrity = new ArrayList<>();
      for (String rel : spec.sqlite()) {
        Path src = paths.shared().resolve(rel);
        Path dest = dir.resolve(rel);
        if (!Files.exists(src)) {
          // Restoring "no database" means moving the failed one aside: remember that it was absent.
          Files.createDirectories(dest.getParent());
          Files.writeString(Path.of(dest + MISSING_MARKER), "");
          notes.add(rel + ": no database yet");
          continue;
        }
        if (!Files.isRegularFile(src)) {
          // SQLite would wait for ever on a pipe.
          throw new BackupFailedException(
              "backup.sqlite: " + rel + " is not a file (a pipe, a socket or a device)", null);
        }
        SqliteBackup.copy(src, dest, timeout);
        String check = SqliteBackup.integrityCheck(dest);
        if (!"ok".equals(check)) {
          throw new BackupFailedException(
              "backup of " + rel + " failed its integrity check: " + check, null);
        }
        integrity.add(rel + ": ok");
        size += Files.size(dest);
      }
      for (String rel : spec.files()) {
        Path src = paths.shared().resolve(rel);
        Path dest = dir.resolve(rel);
        Files.createDirectories(dest.getParent());
        if (Files.isSymbolicLink(src)) {
          // The link itself, as in a folder: what it points to may be outside shared/ (/dev/zero).
          Files.createSymbolicLink(dest, Files.readSymbolicLink(src));
          continue;
        }
        if (!Files.exists(src)) {
          Files.writeString(Path.of(dest + MISSING_MARKER), "");
          notes.add(rel + ": absent");
          continue;
        }
        if (!FolderCopy.isFolder(src) && !Files.isRegularFile(src)) {
          // Reading a pipe would wait for ever; none of these kinds holds data to restore.
          notes.add(rel + ": neither a file nor a folder (a pipe, a socket or a device): left out");
          continue;
        }
        FolderCopy.FileCopier copier =
            (from, to) -> copyFile(paths.shared(), from, to, integrity, notes);
        if (FolderCopy.isFolder(src)) {
          // backup.sqlite's databases have their own copy; a database found in it has one too.
          java.util.Set<Path> listed = sqliteFiles(paths.shared(), spec);
          size +=
              FolderCopy.copy(
                  src,
                  dest,
                  p -> listed.contains(p.normalize()) || SqliteBackup.isSideFile(p),
                  copier);
          continue;
        }
        size += copier.copy(src, dest);
      }
      String integrityText = integrity.isEmpty() ? "n/a" : String.join(", ", integrity);
      // On the disk before the store says it was taken: SQLite does not flush what VACUUM INTO
      // writes, and a power loss after the migration must not leave a backup of holes.
      DurableFiles.forceTree(dir);
      store
          .backups()
          .insert(
              new BackupRepository.BackupRow(
                  rolloutId, deployment, dir.toString(), size, integrityText, null, null));
      try {
        retention.prune(deployment, paths, spec.keep(), rolloutId);
      } catch (SQLException | IOException e) {
        // Housekeeping: the backup is taken and recorded, and older ones go next time.
        LOG.warn("{}: older backups were not pruned: {}", deployment, e.getMessage());
        notes.add("older backups were not pruned: " + e.getMessage());
      }
      return new BackupResult(dir, size, integrityText, notes);
    } catch (BackupFailedException e) {
      cleanup(dir);
      throw e;
    } catch (SQLException | IOException | RuntimeException e) {
      cleanup(dir);
      boolean full = String.valueOf(e.getMessage()).contains("No space left");
      throw new BackupFailedException("backup failed: " + e.getMessage(), e, full);
    }
  }

  /**
   * Copies a file of backup.files. A SQLite database among them (listed there rather than in
   * backup.sqlite, or found in a folder listed) is copied as backup.sqlite's are, in one read
   * transaction: a plain copy of a database being written is torn, and misses what its {@code -wal}
   * holds (its side files are then left out). One SQLite cannot read is copied as a file, with its
   * side files.
   */
  private long copyFile(
      Path shared, Path src, Path dest, List<String> integrity, List<String> notes)
      throws IOException {
    String rel = shared.relativize(src).toString();
    if (SqliteBackup.isDatabase(src)) {
      try {
        SqliteBackup.copy(src, dest, timeout);
        Files.setPosixFilePermissions(dest, Files.getPosixFilePermissions(src));
        integrity.add(rel + ": " + SqliteBackup.integrityCheck(dest));
        return Files.size(dest);
      } catch (SQLException e) {
        Files.deleteIfExists(dest);
        notes.add(
            rel + ": not readable as a SQLite database (" + e.getMessage() + "), copied as a file");
        long bytes = 0;
        for (String suffix : SqliteBackup.SIDE_FILES) {
          Path side = Path.of(src + suffix);
          if (Files.exists(side)) {
            bytes += FolderCopy.VERIFIED.copy(side, Path.of(dest + suffix));
          }
        }
        return bytes + FolderCopy.VERIFIED.copy(src, dest);
      }
    }
    FolderCopy.Copied c = FolderCopy.verifiedCopy(src, dest);
    if (c.grew()) {
      notes.add(rel + " grew while copied: its first " + c.bytes() + " bytes are in the backup");
    }
    return c.bytes();
  }

  /**
   * Refuses a copy of {@code needed} bytes into {@code dir} unless twice that plus 16Mi is free:
   * room for the copy, for the data growing meanwhile (WAL), and a margin.
   */
  static void requireFree(Path dir, long needed, String what)
      throws IOException, BackupFailedException {
    long free = Files.getFileStore(dir).getUsableSpace();
    long threshold = needed * 2 + (16L << 20);
    if (free < threshold) {
      throw new BackupFailedException(
          "not enough free disk for "
              + what
              + ": "
              + Quantities.human(threshold)
              + " must be free in "
              + dir.getParent()
              + " (twice the data, "
              + Quantities.human(needed)
              + ", plus 16Mi), "
              + Quantities.human(free)
              + " is",
          null,
          true);
    }
  }

  private static void cleanup(Path dir) {
    try {
      BackupRetention.clear(dir);
    } catch (IOException ignored) {
      // Nothing more to do: the rollout fails and reports the original error.
    }
  }

  /** What a restore did, and where the data it replaced was kept. */
  public record Restored(List<String> paths, Path failedDir) {
    @Override
    public String toString() {
      return paths.toString();
    }
  }

  /**
   * Restores a backup into {@code shared/}; the data it replaces is moved into a new folder of the
   * backup ({@code failed/}, or {@code failed-2/}, ... when restored again): a failure's data is
   * never overwritten, not even by a second restore of the same backup.
   */
  public Restored restore(DeploymentPaths paths, long rolloutId, BackupSpec spec)
      throws IOException {
    Path dir = paths.backup(rolloutId);
    if (!Files.isDirectory(dir)) {
      throw new IOException("backup " + dir + " does not exist");
    }
    Path failed = dir.resolve("failed");
    for (int n = 2; Files.exists(failed); n++) {
      failed = dir.resolve("failed-" + n);
    }
    List<String> done = new ArrayList<>();
    // Folders first: a database of backup.sqlite inside one is then put back after it, from its
    // consistent copy, instead of being moved aside again with the folder.
    for (String rel : concat(spec.files(), spec.sqlite())) {
      Path target = paths.shared().resolve(rel);
      Path saved = dir.resolve(rel);
      // A database of backup.files goes with its side files as backup.sqlite's do.
      boolean sqlite =
          spec.sqlite().contains(rel)
              || SqliteBackup.isDatabase(saved)
              || SqliteBackup.isDatabase(target);
      boolean wasAbsent = Files.exists(Path.of(saved + MISSING_MARKER));
      if (!Files.exists(saved, LinkOption.NOFOLLOW_LINKS) && !wasAbsent) {
        continue;
      }
      // Keep the data as it was at failure.
      Path failedCopy = failed.resolve(rel);
      Files.createDirectories(failedCopy.getParent());
      // With its side files: a hot -journal (a writer killed in a transaction, in the default
      // rollback-journal mode) left beside the restored file would be played back into it by
      // the next connection, writing the failed data's pages over the backup's.
      for (String suffix : sqlite ? withSideFiles() : List.of("")) {
        Path f = Path.of(target + suffix);
        if (Files.exists(f, LinkOption.NOFOLLOW_LINKS)) {
          Files.move(f, Path.of(failedCopy + suffix), StandardCopyOption.REPLACE_EXISTING);
        }
      }
      if (wasAbsent) {
        done.add(rel + " (absent before the rollout: moved aside)");
        continue;
      }
      Files.createDirectories(target.getParent());
      Path tmp = Path.of(target + ".vtrack-restore");
      if (FolderCopy.isFolder(saved)) {
        // A folder is put together beside its place, then renamed into it, as a file is.
        ReleaseBuilder.deleteTree(tmp);
        // Its databases (the backup's own copies) are put back by the sqlite step below.
        FolderCopy.copy(saved, tmp, sqliteFiles(dir, spec));
        DurableFiles.forceTree(tmp);
      } else {
        // A link comes back as the link it was.
        Files.copy(saved, tmp, StandardCopyOption.REPLACE_EXISTING, LinkOption.NOFOLLOW_LINKS);
        if (!Files.isSymbolicLink(tmp)) {
          DurableFiles.force(tmp);
        }
      }
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      DurableFiles.forceFolder(target.getParent());
      done.add(rel);
    }
    if (Files.isDirectory(failed)) {
      DurableFiles.forceTree(failed);
    }
    return new Restored(done, failed);
  }

  /**
   * The databases of backup.sqlite under {@code base} (shared/ or a backup) with their side files
   * and markers: a folder's copy leaves them out, since their own copy is the consistent one.
   */
  static java.util.Set<Path> sqliteFiles(Path base, BackupSpec spec) {
    java.util.Set<Path> out = new java.util.HashSet<>();
    for (String rel : spec.sqlite()) {
      Path db = base.resolve(rel).normalize();
      out.add(Path.of(db + MISSING_MARKER));
      for (String suffix : withSideFiles()) {
        out.add(Path.of(db + suffix));
      }
    }
    return out;
  }

  /** "" (the database itself) and its side files' suffixes. */
  private static List<String> withSideFiles() {
    List<String> out = new ArrayList<>(List.of(""));
    out.addAll(SqliteBackup.SIDE_FILES);
    return out;
  }

  private static List<String> concat(List<String> a, List<String> b) {
    List<String> out = new ArrayList<>(a);
    out.addAll(b);
    return out;
  }
}
