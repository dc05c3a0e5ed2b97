package io.vtrack.agent.release;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/**
 * Resolves a relative path under a root without ever leaving it: the result is strictly inside the
 * root and no folder on the way is a symbolic link (a link committed to the app repository could
 * otherwise point a delete or a link at the live data or anywhere on the host). Enforced where the
 * damage would happen, in addition to validation of the document.
 */
public final class ConfinedPath {
  private ConfinedPath() {}

  /** A path that would leave its root or pass through a symbolic link. */
  public static final class UnsafePathException extends IOException {
    public UnsafePathException(String message) {
      super(message);
    }
  }

  /**
   * {@code root/rel}, strictly inside {@code root}, with no symbolic link among the folders between
   * them (the last component itself may be one: callers decide what to do with it).
   */
  public static Path child(Path root, String rel) throws UnsafePathException {
    Path resolved;
    try {
      resolved = root.resolve(strip(rel)).normalize();
    } catch (InvalidPathException e) {
      throw new UnsafePathException("'" + rel + "' is not a valid path: " + e.getMessage());
    }
    Path base = root.normalize();
    if (resolved.equals(base) || !resolved.startsWith(base)) {
      throw new UnsafePathException(
          "'" + rel + "' is not a path strictly inside " + base + ": refused");
    }
    Path at = base;
    for (Path part : base.relativize(resolved.getParent() == null ? base : resolved.getParent())) {
      if (part.toString().isEmpty()) {
        continue;
      }
      at = at.resolve(part);
      if (Files.isSymbolicLink(at)) {
        throw new UnsafePathException(
            "'" + rel + "' passes through the symbolic link " + at + ": refused");
      }
    }
    return resolved;
  }

  /**
   * A file or folder inside {@code root} that may itself be a link, as long as what it really is
   * lies in {@code root} or in one of {@code alsoAllowed} (e.g. a service's cwd in a shared
   * folder).
   */
  public static Path realInside(Path root, String rel, Path... alsoAllowed) throws IOException {
    Path p;
    try {
      p = root.resolve(strip(rel)).normalize();
    } catch (InvalidPathException e) {
      throw new UnsafePathException("'" + rel + "' is not a valid path: " + e.getMessage());
    }
    if (!Files.exists(p)) {
      return p;
    }
    Path real = p.toRealPath();
    if (real.startsWith(root.toRealPath())) {
      return p;
    }
    for (Path other : alsoAllowed) {
      if (Files.exists(other) && real.startsWith(other.toRealPath())) {
        return p;
      }
    }
    throw new UnsafePathException(
        "'" + rel + "' leads to " + real + ", outside " + root + " (a symbolic link?): refused");
  }

  /** Whether {@code p} is a folder that holds anything (a link is never followed). */
  public static boolean nonEmptyDir(Path p) throws IOException {
    if (!Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
      return false;
    }
    try (var s = Files.list(p)) {
      return s.findAny().isPresent();
    }
  }

  private static String strip(String rel) {
    return rel.endsWith("/") ? rel.substring(0, rel.length() - 1) : rel;
  }
}
