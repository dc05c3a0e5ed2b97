package io.vtrack.agent.backup;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Set;

/**
 * A folder of {@code backup.files} (users' uploads, say), copied whole: its regular files, each
 * verified against its source, its folders, and its symbolic links as links (never followed, so
 * nothing outside it is copied). Other kinds of file (sockets, FIFOs) are not data and are left
 * out. Blocking.
 */
final class FolderCopy {
  private FolderCopy() {}

  /** The bytes of the regular files under {@code dir}: what a copy of it takes. */
  static long size(Path dir) throws IOException {
    long[] total = {0};
    Files.walkFileTree(
        dir,
        new SimpleFileVisitor<>() {
          @Override
          public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
            if (attrs.isRegularFile()) {
              total[0] += attrs.size();
            }
            return FileVisitResult.CONTINUE;
          }
        });
    return total[0];
  }

  /** Copies one regular file to a path that does not exist yet; returns the bytes written. */
  @FunctionalInterface
  interface FileCopier {
    long copy(Path from, Path to) throws IOException;
  }

  /** Which files of a folder are left out of its copy. */
  @FunctionalInterface
  interface Skip {
    boolean test(Path file) throws IOException;
  }

  /** A plain copy, compared with its source ({@link #verifiedCopy}). */
  static final FileCopier VERIFIED = (from, to) -> verifiedCopy(from, to).bytes();

  /** What a verified copy wrote, and whether the source had grown past it meanwhile. */
  record Copied(long bytes, boolean grew) {}

  private static final int COPY_TRIES = 3;

  /**
   * Copies a file and compares the copy with its source. A source that only grew meanwhile (a log
   * being appended) is kept as copied: the copy is what it held a moment before, whole. One that
   * changed otherwise is copied again, and fails the copy after {@value #COPY_TRIES} tries.
   */
  static Copied verifiedCopy(Path from, Path to) throws IOException {
    for (int attempt = 1; ; attempt++) {
      Files.copy(from, to, StandardCopyOption.COPY_ATTRIBUTES, StandardCopyOption.REPLACE_EXISTING);
      long copied = Files.size(to);
      long mismatch = Files.mismatch(from, to);
      if (mismatch == -1) {
        return new Copied(copied, false);
      }
      if (mismatch == copied) {
        return new Copied(copied, true);
      }
      if (attempt == COPY_TRIES) {
        throw new IOException(
            "copy of "
                + from
                + " differs from its source (it changed while copied, "
                + COPY_TRIES
                + " times)");
      }
    }
  }

  /** {@link #copy(Path, Path, Skip, FileCopier)} of plain, verified copies. */
  static long copy(Path from, Path to, Set<Path> skip) throws IOException {
    return copy(from, to, p -> skip.contains(p.normalize()), VERIFIED);
  }

  /**
   * Copies {@code from} into {@code to} (created when missing; none of the files copied may exist
   * there), leaving out the files {@code skip} accepts, each regular file by {@code files}; returns
   * the bytes of regular files copied.
   */
  static long copy(Path from, Path to, Skip skip, FileCopier files) throws IOException {
    long[] total = {0};
    Files.walkFileTree(
        from,
        new SimpleFileVisitor<>() {
          @Override
          public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes attrs)
              throws IOException {
            Path target = to.resolve(from.relativize(d).toString());
            Files.createDirectories(target);
            Files.setPosixFilePermissions(target, Files.getPosixFilePermissions(d));
            return FileVisitResult.CONTINUE;
          }

          @Override
          public FileVisitResult visitFile(Path file, BasicFileAttributes attrs)
              throws IOException {
            Path target = to.resolve(from.relativize(file).toString());
            if (skip.test(file)) {
              return FileVisitResult.CONTINUE;
            }
            if (attrs.isSymbolicLink()) {
              Files.createSymbolicLink(target, Files.readSymbolicLink(file));
            } else if (attrs.isRegularFile()) {
              total[0] += files.copy(file, target);
            }
            return FileVisitResult.CONTINUE;
          }
        });
    return total[0];
  }

  static boolean isFolder(Path p) {
    return Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS);
  }
}
