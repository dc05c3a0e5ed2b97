package io.vtrack.agent.runtime;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code allowedCommands} of agent.yaml (DESIGN.md §1, trust boundary): which programs services,
 * {@code prepare}, {@code validate} and {@code command} checks may run. argv[0] is resolved with
 * the agent's own {@code PATH} (a document's {@code env} cannot redirect it), or against the
 * working folder when it holds a slash, to a canonical absolute path; an entry allows it when that
 * path is the entry's or lies under it (path boundaries, not text prefixes). With a non-empty list
 * the resolved absolute path is what runs. Resolution reads the file system: call it off the event
 * loop.
 */
public final class CommandPolicy {
  /** No restriction: argv runs as written. */
  public static final CommandPolicy ANY = new CommandPolicy(List.of(), System.getenv("PATH"));

  private final List<String> allowed;
  private final String agentPath;

  /** A command this policy refuses, with what was resolved and why. */
  public static final class NotAllowedException extends IOException {
    public NotAllowedException(String message) {
      super(message);
    }
  }

  public CommandPolicy(List<String> allowed, String agentPath) {
    this.allowed = List.copyOf(allowed);
    this.agentPath = agentPath == null ? "/usr/local/bin:/usr/bin:/bin" : agentPath;
  }

  /** The agent's policy: {@code allowed} with the agent's own PATH. */
  public static CommandPolicy of(List<String> allowed) {
    return allowed.isEmpty() ? ANY : new CommandPolicy(allowed, System.getenv("PATH"));
  }

  public boolean restricts() {
    return !allowed.isEmpty();
  }

  public List<String> allowed() {
    return allowed;
  }

  /**
   * The argv to run: unchanged without a restriction; else argv[0] replaced by the absolute path it
   * resolves to, after checking that it is allowed.
   *
   * @param cwd the folder the command runs in (relative argv[0] with a slash resolves there)
   */
  public List<String> approve(List<String> argv, Path cwd) throws NotAllowedException {
    if (!restricts()) {
      return argv;
    }
    if (argv.isEmpty() || argv.get(0).isEmpty()) {
      throw new NotAllowedException("an empty command is not allowed");
    }
    Path found = locate(argv.get(0), cwd);
    if (found == null) {
      throw new NotAllowedException(
          "'" + argv.get(0) + "' is not found on the agent's PATH: not allowed by allowedCommands");
    }
    Path real = real(found);
    if (!permits(real)) {
      throw new NotAllowedException(
          "'"
              + argv.get(0)
              + "' resolves to "
              + real
              + ", which allowedCommands "
              + allowed
              + " does not allow");
    }
    List<String> out = new ArrayList<>(argv);
    out.set(0, found.toString());
    return out;
  }

  /** Whether any of {@code names} (e.g. docker-compose, docker) resolves to an allowed program. */
  public boolean permitsAny(List<String> names) {
    for (String n : names) {
      Path p = locate(n, Path.of("/"));
      if (p != null && permits(real(p))) {
        return true;
      }
    }
    return false;
  }

  private boolean permits(Path real) {
    for (String entry : allowed) {
      Path base = entryPath(entry);
      if (base != null && (real.equals(base) || real.startsWith(base))) {
        return true;
      }
    }
    return false;
  }

  /** An entry as a canonical path: a bare name through the agent's PATH, else the path itself. */
  private Path entryPath(String entry) {
    if (entry == null || entry.isBlank()) {
      return null;
    }
    try {
      if (!entry.contains("/")) {
        Path p = locate(entry, Path.of("/"));
        return p == null ? null : real(p);
      }
      Path p = Path.of(entry);
      if (!p.isAbsolute()) {
        return null;
      }
      return real(p.normalize());
    } catch (InvalidPathException e) {
      return null;
    }
  }

  /** Where {@code argv0} is: against {@code cwd} when it has a slash, else on the agent's PATH. */
  Path locate(String argv0, Path cwd) {
    try {
      if (argv0.contains("/")) {
        Path p = cwd.resolve(argv0).normalize().toAbsolutePath();
        return Files.isRegularFile(p) ? p : null;
      }
      for (String dir : agentPath.split(File.pathSeparator)) {
        if (dir.isEmpty() || !dir.startsWith("/")) {
          // A relative PATH entry would resolve in the release: never searched.
          continue;
        }
        Path p = Path.of(dir, argv0);
        if (Files.isRegularFile(p) && Files.isExecutable(p)) {
          return p;
        }
      }
    } catch (InvalidPathException e) {
      return null;
    }
    return null;
  }

  private static Path real(Path p) {
    try {
      return p.toRealPath();
    } catch (IOException e) {
      return p.toAbsolutePath().normalize();
    }
  }
}
