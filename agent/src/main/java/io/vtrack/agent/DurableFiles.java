package io.vtrack.agent;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Flushing to the disk what must survive a power loss: a file written or copied is in the page
 * cache only until it is forced, and a file created, renamed or moved is in its folder only once
 * the folder is forced. A backup the store records as taken, data put back by a rollback, or a
 * release folder once it counts as complete, is flushed first. Blocking.
 */
public final class DurableFiles {
  private static final Logger LOG = LoggerFactory.getLogger(DurableFiles.class);

  private DurableFiles() {}

  /** Forces the content of {@code file} to the disk. */
  public static void force(Path file) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
      ch.force(true);
    }
  }

  /** Forces the entries of {@code dir} (names created, renamed or removed) to the disk. */
  public static void forceFolder(Path dir) throws IOException {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    }
  }

  /**
   * Flushes the whole file system {@code path} is on ({@code syncfs(2)}, through {@code sync -f}):
   * one flush for a tree of many files, where forcing each would cost a journal commit apiece.
   * False, with the reason logged, when it fails or takes longer than {@code timeout}: the caller
   * goes on, as durable as the kernel's own write-back makes it.
   */
  public static boolean syncFileSystem(Path path, Duration timeout) {
    try {
      Process p =
          new ProcessBuilder("sync", "-f", path.toString())
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.DISCARD)
              .start();
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        LOG.warn(
            "flushing the file system of {} took over {} s: going on", path, timeout.toSeconds());
        return false;
      }
      if (p.exitValue() != 0) {
        LOG.warn("cannot flush the file system of {}: sync -f exited {}", path, p.exitValue());
        return false;
      }
      return true;
    } catch (IOException e) {
      LOG.warn("cannot flush the file system of {}: {}", path, e.getMessage());
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /**
   * Forces every regular file under {@code dir}, then every folder from the deepest up to {@code
   * dir} and its parent, so that the whole tree, and its name, are on the disk.
   */
  public static void forceTree(Path dir) throws IOException {
    List<Path> folders = new ArrayList<>();
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.toList()) {
        if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
          force(p);
        } else if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
          folders.add(p);
        }
      }
    }
    for (int i = folders.size() - 1; i >= 0; i--) {
      forceFolder(folders.get(i));
    }
    if (dir.toAbsolutePath().getParent() != null) {
      forceFolder(dir.toAbsolutePath().getParent());
    }
  }
}
