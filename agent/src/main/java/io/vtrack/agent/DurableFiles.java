package io.vtrack.agent;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Flushing to the disk what must survive a power loss: a file written or copied is in the page
 * cache only until it is forced, and a file created, renamed or moved is in its folder only once
 * the folder is forced. A backup the store records as taken, or data put back by a rollback, is
 * forced first. Blocking.
 */
public final class DurableFiles {
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
   * Forces every regular file under {@code dir}, then every folder from the deepest up to {@code
   * dir} and its parent, so that the whole tree, and its name, are on the disk.
   */
  public static void forceTree(Path dir) throws IOException {
    List<Path> folders = new ArrayList<>();
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.toList()) {
        if (Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
          force(p);
        } else if (Files.isDirectory(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
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
