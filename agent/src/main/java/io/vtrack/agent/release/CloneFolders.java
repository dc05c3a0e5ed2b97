package io.vtrack.agent.release;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.eclipse.jgit.util.FileUtils;

/**
 * The folders new mirrors are cloned into before they take their name ({@code .clone-<id>} under
 * {@code repos/}), each claimed by a lock on {@code .clone-<id>.lock} for as long as its clone
 * runs. A process that dies mid-clone (a crash, a power cut) lets go of its lock with it, so what
 * it left is told apart from a clone still running in another agent on the same state folder (a
 * rolling update runs the old and the new agent side by side) and removed by {@link #sweep}.
 */
final class CloneFolders {
  private static final String PREFIX = ".clone-";
  private static final String LOCK = ".lock";

  /**
   * The lock files of this process's claims. A sweep never opens them: closing any channel on a
   * file lets go of every lock the process holds on it (POSIX record locks), a running clone's too.
   */
  private static final Set<Path> OURS = ConcurrentHashMap.newKeySet();

  private CloneFolders() {}

  /** A clone folder of this process: removed, with its lock file, on close. */
  static final class Claim implements AutoCloseable {
    private final Path dir;
    private final Path lockFile;
    private final FileChannel channel;

    private Claim(Path dir, Path lockFile, FileChannel channel) {
      this.dir = dir;
      this.lockFile = lockFile;
      this.channel = channel;
    }

    Path dir() {
      return dir;
    }

    /** Removes the folder (unless it took its name) first, so no folder is ever left unclaimed. */
    @Override
    public void close() throws IOException {
      try {
        FileUtils.delete(dir.toFile(), FileUtils.RECURSIVE | FileUtils.IGNORE_ERRORS);
        Files.deleteIfExists(lockFile);
      } finally {
        channel.close();
        OURS.remove(lockFile);
      }
    }
  }

  /** Claims a new clone folder under {@code root} (created empty). */
  static Claim claim(Path root) throws IOException {
    root = root.toAbsolutePath().normalize();
    Files.createDirectories(root);
    while (true) {
      String id = UUID.randomUUID().toString();
      Path lockFile = root.resolve(PREFIX + id + LOCK);
      OURS.add(lockFile);
      FileChannel channel;
      try {
        channel =
            FileChannel.open(lockFile, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
      } catch (IOException | RuntimeException e) {
        OURS.remove(lockFile);
        throw e;
      }
      boolean kept = false;
      try {
        channel.lock();
        // A sweep may have taken the lock file between its creation and the lock: then the lock
        // holds a file no longer under its name, and a new one is made.
        if (Files.exists(lockFile)) {
          Path dir = Files.createDirectory(root.resolve(PREFIX + id));
          kept = true;
          return new Claim(dir, lockFile, channel);
        }
      } finally {
        if (!kept) {
          channel.close();
          OURS.remove(lockFile);
        }
      }
    }
  }

  /**
   * Removes the clone folders and lock files no live process holds; returns the folders removed.
   */
  static synchronized List<Path> sweep(Path root) throws IOException {
    root = root.toAbsolutePath().normalize();
    if (!Files.isDirectory(root)) {
      return List.of();
    }
    List<Path> leftovers;
    try (Stream<Path> s = Files.list(root)) {
      leftovers =
          s.filter(p -> p.getFileName().toString().startsWith(PREFIX))
              .filter(p -> !p.getFileName().toString().endsWith(LOCK))
              .toList();
    }
    List<Path> removed = new ArrayList<>();
    for (Path dir : leftovers) {
      Path lockFile = dir.resolveSibling(dir.getFileName() + LOCK);
      if (!Files.exists(lockFile)) {
        // Claims make the lock file first and remove it last: a folder without one was left by
        // an agent that did not claim its clones.
        FileUtils.delete(dir.toFile(), FileUtils.RECURSIVE | FileUtils.IGNORE_ERRORS);
        removed.add(dir);
        continue;
      }
      if (removeIfUnheld(dir, lockFile)) {
        removed.add(dir);
      }
    }
    // Lock files whose folder has gone (a process that died after its clone took its name).
    try (Stream<Path> s = Files.list(root)) {
      for (Path lockFile :
          s.filter(p -> p.getFileName().toString().startsWith(PREFIX))
              .filter(p -> p.getFileName().toString().endsWith(LOCK))
              .toList()) {
        String name = lockFile.getFileName().toString();
        Path dir = lockFile.resolveSibling(name.substring(0, name.length() - LOCK.length()));
        if (!Files.exists(dir)) {
          removeIfUnheld(dir, lockFile);
        }
      }
    }
    return removed;
  }

  private static boolean removeIfUnheld(Path dir, Path lockFile) throws IOException {
    if (OURS.contains(lockFile)) {
      return false; // this process's own clone, still running
    }
    try (FileChannel channel = FileChannel.open(lockFile, StandardOpenOption.WRITE)) {
      FileLock lock;
      try {
        lock = channel.tryLock();
      } catch (OverlappingFileLockException e) {
        return false; // held by this process (sweeps run one at a time)
      }
      if (lock == null) {
        return false; // another live process's clone
      }
      FileUtils.delete(dir.toFile(), FileUtils.RECURSIVE | FileUtils.IGNORE_ERRORS);
      Files.deleteIfExists(lockFile);
      return true;
    } catch (NoSuchFileException e) {
      return false; // its owner finished meanwhile
    }
  }
}
