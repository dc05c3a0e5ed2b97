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

  /**
   * Copies {@code from} into {@code to} (created when missing; none of the files copied may exist
   * there), leaving out the files of {@code skip}; returns the bytes of regular files copied. A
   * file that changed while it was copied fails the copy, as a single file's does.
   */
  static long copy(Path from, Path to, Set<Path> skip) throws IOException {
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
            if (skip.contains(file.normalize())) {
              return FileVisitResult.CONTINUE;
            }
            if (attrs.isSymbolicLink()) {
              Files.createSymbolicLink(target, Files.readSymbolicLink(file));
            } else if (attrs.isRegularFile()) {
              Files.copy(file, target, StandardCopyOption.COPY_ATTRIBUTES);
              if (Files.mismatch(file, target) != -1) {
                throw new IOException("copy of " + file + " differs from its source");
              }
              total[0] += attrs.size();
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
