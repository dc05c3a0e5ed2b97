package io.vtrack.agent.backup;

import io.vtrack.agent.model.BackupSpec;
import io.vtrack.agent.model.Quantities;
import io.vtrack.agent.release.DeploymentPaths;
import io.vtrack.agent.release.ReleaseBuilder;
import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The copy of a deployment's {@code shared/} that a snapshot preview runs on (DESIGN.md §2, {@code
 * preview: snapshot}): the SQLite files of {@code backup.sqlite} and the files of {@code
 * backup.files} come from this rollout's verified backup, every other shared file is copied from
 * {@code shared/} (a SQLite file among them through the backup API, never a torn copy). Nothing in
 * the copy is a link to the live files: a symbolic link in {@code shared/} is left out. Blocking.
 */
public final class PreviewCopy {

  private PreviewCopy() {}

  /** What was copied: into where, how many bytes, in how long, and what was left out. */
  public record Made(Path shared, long bytes, long millis, List<String> notes) {
    @Override
    public String toString() {
      return "copied "
          + Quantities.human(bytes)
          + " of data into "
          + shared
          + " in "
          + millis
          + " ms"
          + (notes.isEmpty() ? "" : " (" + String.join("; ", notes) + ")");
    }
  }

  /**
   * Makes {@code preview.shared()} from {@code live}'s shared paths and backup {@code rolloutId}.
   * Refuses, as a backup does, when the disk lacks twice the data plus 16Mi.
   */
  public static Made make(
      DeploymentPaths live,
      long rolloutId,
      BackupSpec backup,
      List<String> sharedPaths,
      DeploymentPaths preview,
      Duration sqliteTimeout)
      throws BackupManager.BackupFailedException {
    long t0 = System.nanoTime();
    Path dest = preview.shared();
    Path saved = live.backup(rolloutId);
    List<String> notes = new ArrayList<>();
    try {
      ReleaseBuilder.deleteTree(dest);
      Files.createDirectories(
          dest, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
      Set<String> fromBackup = new HashSet<>(backup.sqlite());
      fromBackup.addAll(backup.files());
      List<Path> files = liveFiles(live.shared(), sharedPaths, notes);
      long needed = 0;
      for (Path f : files) {
        needed += Files.size(f);
      }
      BackupManager.requireFree(dest, needed, "the preview's copy of the data");
      long bytes = 0;
      Set<String> sqliteBases = new HashSet<>();
      for (Path f : files) {
        String rel = live.shared().relativize(f).toString();
        if (fromBackup(rel, fromBackup)) {
          continue;
        }
        if (SqliteBackup.isDatabase(f)) {
          sqliteBases.add(rel);
        }
      }
      for (Path f : files) {
        String rel = live.shared().relativize(f).toString();
        if (fromBackup(rel, fromBackup) || isSideFile(rel, fromBackup, sqliteBases)) {
          continue;
        }
        Path to = dest.resolve(rel);
        Files.createDirectories(to.getParent());
        if (sqliteBases.contains(rel)) {
          SqliteBackup.copy(f, to, sqliteTimeout);
        } else {
          Files.copy(f, to, StandardCopyOption.COPY_ATTRIBUTES);
        }
        bytes += Files.size(to);
      }
      for (String rel : fromBackup) {
        Path from = saved.resolve(rel);
        Path to = dest.resolve(rel);
        if (FolderCopy.isFolder(from)) {
          Files.createDirectories(to.getParent());
          // Its databases come from their own copies, below or above.
          bytes += FolderCopy.copy(from, to, BackupManager.sqliteFiles(saved, backup));
          continue;
        }
        if (!Files.isRegularFile(from, LinkOption.NOFOLLOW_LINKS)) {
          continue; // absent before the rollout: absent in the copy too
        }
        Files.createDirectories(to.getParent());
        Files.copy(from, to, StandardCopyOption.REPLACE_EXISTING);
        bytes += Files.size(to);
      }
      // Empty shared directories exist in the copy too (an app may expect its folders).
      for (String sp : sharedPaths) {
        if (sp.endsWith("/")) {
          Files.createDirectories(dest.resolve(sp));
        }
      }
      return new Made(dest, bytes, (System.nanoTime() - t0) / 1_000_000, notes);
    } catch (BackupManager.BackupFailedException e) {
      cleanup(dest);
      throw e;
    } catch (SQLException | IOException | RuntimeException e) {
      cleanup(dest);
      boolean full = String.valueOf(e.getMessage()).contains("No space left");
      throw new BackupManager.BackupFailedException(
          "the preview's copy of the data failed: " + e.getMessage(), e, full);
    }
  }

  /** Every regular file under the shared paths, links left out (and said so). */
  private static List<Path> liveFiles(Path shared, List<String> sharedPaths, List<String> notes)
      throws IOException {
    List<Path> out = new ArrayList<>();
    for (String sp : sharedPaths) {
      Path p = shared.resolve(sp).normalize();
      if (!p.startsWith(shared) || !Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
        continue;
      }
      Files.walkFileTree(
          p,
          new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
              if (attrs.isRegularFile()) {
                out.add(file);
              } else if (attrs.isSymbolicLink()) {
                notes.add(shared.relativize(file) + " is a link: left out");
              }
              return FileVisitResult.CONTINUE;
            }
          });
    }
    return out;
  }

  /** Whether a shared file comes from the backup: listed itself, or in a folder listed. */
  private static boolean fromBackup(String rel, Set<String> listed) {
    Path p = Path.of(rel);
    return listed.stream().anyMatch(l -> p.startsWith(Path.of(l)));
  }

  private static boolean isSideFile(String rel, Set<String> fromBackup, Set<String> sqliteBases) {
    for (String suffix : SqliteBackup.SIDE_FILES) {
      if (rel.endsWith(suffix)) {
        String base = rel.substring(0, rel.length() - suffix.length());
        if (fromBackup.contains(base) || sqliteBases.contains(base)) {
          return true;
        }
      }
    }
    return false;
  }

  /** Deletes a preview's folder (its copy, release and logs). */
  public static void cleanup(Path dir) {
    try {
      ReleaseBuilder.deleteTree(dir);
    } catch (IOException ignored) {
      // Left for the next preview, which deletes it first.
    }
  }
}
