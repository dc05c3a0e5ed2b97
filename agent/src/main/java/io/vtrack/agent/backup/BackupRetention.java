package io.vtrack.agent.backup;

import io.vtrack.agent.release.DeploymentPaths;
import io.vtrack.agent.release.ReleaseBuilder;
import io.vtrack.agent.store.BackupRepository;
import io.vtrack.agent.store.StateStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How many backups a deployment keeps ({@code backup.keep}), and how many copies of the data as it
 * was at a failure ({@code failed/}, {@code failed-2/}...; {@code retention.failedCopies}): a
 * failure's copy is user data, so it outlives its backup until newer failures replace it.
 */
final class BackupRetention {
  private static final Logger LOG = LoggerFactory.getLogger(BackupRetention.class);

  private final StateStore store;
  private final int failedCopies;

  BackupRetention(StateStore store, int failedCopies) {
    this.store = store;
    this.failedCopies = failedCopies;
  }

  /** Keeps the newest {@code keep} backups (the one just taken always). */
  void prune(String deployment, DeploymentPaths paths, int keep, long current)
      throws SQLException, IOException {
    List<BackupRepository.BackupRow> rows = store.backups().list(deployment);
    int kept = 0;
    for (BackupRepository.BackupRow b : rows) {
      if (b.rolloutId() == current || kept < keep) {
        kept++;
        continue;
      }
      clear(paths.backup(b.rolloutId()));
      store.backups().delete(b.rolloutId());
    }
    pruneFailedCopies(deployment, paths);
  }

  /**
   * Removes what backup folder {@code dir} holds but its failed copies (failed/, and failed-2/...
   * when it was restored again), which are user data; the folder goes too when none is left.
   */
  static void clear(Path dir) throws IOException {
    List<Path> failed = Files.isDirectory(dir) ? failedIn(dir) : List.of();
    if (failed.isEmpty()) {
      ReleaseBuilder.deleteTree(dir);
      return;
    }
    try (var s = Files.list(dir)) {
      for (Path p : s.toList()) {
        if (!failed.contains(p)) {
          ReleaseBuilder.deleteTree(p);
        }
      }
    }
  }

  /**
   * Keeps the newest {@code failedCopies} folders holding data as it was at a failure ({@code
   * failed/}, {@code failed-2/}...): bounded by the setting, never all of them forever.
   */
  private void pruneFailedCopies(String deployment, DeploymentPaths paths) throws IOException {
    Path root = paths.backups();
    if (!Files.isDirectory(root)) {
      return;
    }
    List<Path> withFailed = new ArrayList<>();
    try (var s = Files.list(root)) {
      for (Path dir : s.toList()) {
        if (dir.getFileName().toString().matches("\\d{1,18}") && !failedIn(dir).isEmpty()) {
          withFailed.add(dir);
        }
      }
    }
    withFailed.sort(
        Comparator.comparingLong((Path d) -> Long.parseLong(d.getFileName().toString()))
            .reversed());
    for (Path dir :
        withFailed.subList(Math.min(failedCopies, withFailed.size()), withFailed.size())) {
      for (Path f : failedIn(dir)) {
        ReleaseBuilder.deleteTree(f);
      }
      LOG.info(
          "{}: removed the failed-data copy in {} (retention.failedCopies {})",
          deployment,
          dir,
          failedCopies);
      try (var left = Files.list(dir)) {
        if (left.findAny().isEmpty()) {
          Files.delete(dir);
        }
      }
    }
  }

  /** The failed copies a restore made in backup folder {@code dir}: failed/, failed-2/... */
  private static List<Path> failedIn(Path dir) throws IOException {
    try (var s = Files.list(dir)) {
      return s.filter(p -> p.getFileName().toString().matches("failed(-\\d{1,9})?")).toList();
    }
  }
}
