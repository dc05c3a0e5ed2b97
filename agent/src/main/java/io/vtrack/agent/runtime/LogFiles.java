package io.vtrack.agent.runtime;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Size caps for captured service output. Services write straight to their log file (opened in
 * append mode), so rotation copies the file aside and truncates it in place, as logrotate's
 * copytruncate does; the service keeps writing to the same open file.
 */
public final class LogFiles {
  public static final long DEFAULT_MAX_BYTES = 10L << 20;
  public static final int DEFAULT_KEEP = 3;

  private LogFiles() {}

  /**
   * Rotates {@code log} when it exceeds {@code maxBytes}; returns whether it did. The copy keeps at
   * most its last {@code maxBytes} (from a line's start, after a line saying how much went before
   * it): a service that floods its output can write gigabytes between two rotations, and copying
   * them all would keep them all.
   */
  public static boolean rotateIfNeeded(Path log, long maxBytes, int keep) throws IOException {
    if (!Files.exists(log) || Files.size(log) <= maxBytes) {
      return false;
    }
    for (int i = keep - 1; i >= 1; i--) {
      Path from = Path.of(log + "." + i);
      if (Files.exists(from)) {
        Files.move(from, Path.of(log + "." + (i + 1)), StandardCopyOption.REPLACE_EXISTING);
      }
    }
    Path first = Path.of(log + ".1");
    Path tmp = Path.of(log + ".1.tmp");
    try (FileChannel in = FileChannel.open(log, StandardOpenOption.READ, StandardOpenOption.WRITE);
        FileChannel out =
            FileChannel.open(
                tmp,
                StandardOpenOption.CREATE,
                StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
      long size = in.size();
      long from = lineStart(in, Math.max(0, size - maxBytes));
      if (from > 0) {
        out.write(
            ByteBuffer.wrap(
                ("[vtrack: "
                        + from
                        + " bytes of output before this line were dropped: captured output is"
                        + " kept up to "
                        + maxBytes
                        + " bytes a file]\n")
                    .getBytes(StandardCharsets.UTF_8)));
      }
      for (long pos = from; pos < size; ) {
        pos += in.transferTo(pos, size - pos, out);
      }
      in.truncate(0);
    }
    restrict(tmp, "rw-------");
    Files.move(tmp, first, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    return true;
  }

  /** Where the first line that starts at or after {@code pos} starts (pos itself at 0). */
  private static long lineStart(FileChannel in, long pos) throws IOException {
    if (pos == 0) {
      return 0;
    }
    ByteBuffer buf = ByteBuffer.allocate(64 << 10);
    in.read(buf, pos - 1);
    buf.flip();
    for (int i = 0; i < buf.limit(); i++) {
      if (buf.get(i) == '\n') {
        return pos + i;
      }
    }
    return pos; // no line break nearby: cut in the line
  }

  /** The last {@code maxBytes} of a file as text (for status and history). */
  public static String tail(Path file, int maxBytes) {
    return tail(file, maxBytes, 0);
  }

  /**
   * The last {@code maxBytes} of a file written at or after byte {@code since} (e.g. where a
   * process started appending); the whole tail when the file has since been truncated.
   */
  public static String tail(Path file, int maxBytes, long since) {
    try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "r")) {
      return tail(raf, maxBytes, since);
    } catch (IOException e) {
      return "";
    }
  }

  /** As {@link #tail(Path, int, long)}, of a file already open (it may have no name any more). */
  public static String tail(RandomAccessFile raf, int maxBytes, long since) {
    try {
      long len = raf.length();
      long floor = since <= len ? since : 0;
      long from = Math.max(floor, len - maxBytes);
      byte[] buf = new byte[(int) (len - from)];
      raf.seek(from);
      raf.readFully(buf);
      String s = new String(buf, StandardCharsets.UTF_8);
      return from > floor ? "…" + s : s;
    } catch (IOException e) {
      return "";
    }
  }

  /**
   * The log file {@code name} in {@code dir}, both made readable by the agent's user only when they
   * are created: a service's output may hold what its users sent.
   */
  public static Path ownerOnly(Path dir, String name) throws IOException {
    if (!Files.isDirectory(dir)) {
      Files.createDirectories(dir);
      restrict(dir, "rwx------");
    }
    Path log = dir.resolve(name);
    if (Files.isSymbolicLink(log)) {
      // logs/<service>.log of a blue-green deployment that recreates now: its own file from here.
      Files.delete(log);
    }
    if (!Files.exists(log)) {
      try {
        Files.createFile(log);
        restrict(log, "rw-------");
      } catch (FileAlreadyExistsException e) {
        // Made meanwhile: fine.
      }
    }
    return log;
  }

  /**
   * Points {@code logs/<service>.log} of every service in {@code services} at the live blue-green
   * instance's {@code logs/<colour>/<service>.log} (DESIGN.md's path: {@code tail -F} on it follows
   * each switch). Each link is replaced in one rename. A regular file there, written while the
   * deployment recreated, is kept as {@code <service>.log.recreate}.
   */
  public static void linkLive(Path logs, String colour, java.util.Collection<String> services)
      throws IOException {
    Files.createDirectories(logs);
    // A service the document no longer has (renamed, removed) keeps no link to an old colour.
    unlinkLiveExcept(logs, services);
    for (String service : services) {
      Path link = logs.resolve(service + ".log");
      Path target = Path.of(colour, service + ".log");
      if (Files.isSymbolicLink(link) && Files.readSymbolicLink(link).equals(target)) {
        continue;
      }
      if (Files.isRegularFile(link, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
        Files.move(
            link, logs.resolve(service + ".log.recreate"), StandardCopyOption.REPLACE_EXISTING);
      }
      Path tmp = logs.resolve("." + service + ".log.link");
      Files.deleteIfExists(tmp);
      Files.createSymbolicLink(tmp, target);
      Files.move(tmp, link, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
  }

  /** Removes the {@code logs/<service>.log} links to blue-green instances (recreate from now). */
  public static void unlinkLive(Path logs) throws IOException {
    unlinkLiveExcept(logs, java.util.List.of());
  }

  private static void unlinkLiveExcept(Path logs, java.util.Collection<String> keep)
      throws IOException {
    if (!Files.isDirectory(logs)) {
      return;
    }
    try (var files = Files.list(logs)) {
      for (Path p : files.toList()) {
        String name = p.getFileName().toString();
        if (name.endsWith(".log")
            && Files.isSymbolicLink(p)
            && !keep.contains(name.substring(0, name.length() - 4))) {
          Files.deleteIfExists(p);
        }
      }
    }
  }

  private static void restrict(Path p, String perms) {
    try {
      Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(perms));
    } catch (IOException | UnsupportedOperationException e) {
      // Not a POSIX file system.
    }
  }
}
