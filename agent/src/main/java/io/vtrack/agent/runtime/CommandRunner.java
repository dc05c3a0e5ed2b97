package io.vtrack.agent.runtime;

import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * Runs a one-shot argv command (prepare, validate, a command check) in its own process group with a
 * timeout, never through a shell. Blocking: call it from a worker.
 */
public final class CommandRunner {
  /**
   * How a command ended: its exit code (-1 on timeout or when it could not start) and output tail.
   */
  public record Result(
      int exitCode, boolean timedOut, String output, long durationMs, boolean stopped) {
    public Result(int exitCode, boolean timedOut, String output, long durationMs) {
      this(exitCode, timedOut, output, durationMs, false);
    }

    public boolean ok() {
      return !timedOut && !stopped && exitCode == 0;
    }

    public String describe() {
      if (stopped) {
        return "stopped after " + durationMs + "ms";
      }
      if (timedOut) {
        return "timed out after " + durationMs + "ms";
      }
      return exitCode < 0 ? "could not start" : "exit code " + exitCode;
    }
  }

  /**
   * Stops the commands run with it: the one running is killed (its group, and what it started in
   * sessions of its own), and any run after that does not start. Thread-safe.
   */
  public static final class Stopper {
    private Process running;
    private boolean stopped;

    /** Stops what runs now and everything run with this stopper after; whether one ran. */
    public boolean stop() {
      Process p;
      synchronized (this) {
        stopped = true;
        p = running;
      }
      if (p != null) {
        Signaller.signalGroup(p.pid(), "KILL");
      }
      return p != null;
    }

    public synchronized boolean stopped() {
      return stopped;
    }

    /** Whether {@code p} may run: false (and it is killed) when stopped already. */
    private boolean attach(Process p) {
      synchronized (this) {
        if (!stopped) {
          running = p;
          return true;
        }
      }
      Signaller.signalGroup(p.pid(), "KILL");
      return false;
    }

    private synchronized void detach() {
      running = null;
    }
  }

  private static final int OUTPUT_TAIL = 16 * 1024;

  /**
   * A running command's output file, kept under a size: once more than {@code max} was written
   * since the last cut, the file is cut to nothing. The command writes on at its own offset, so
   * what came before becomes a hole that takes no space; the tail is read from the cut on.
   */
  private static final class Output {
    private final RandomAccessFile file;
    private final long max;
    private long cutAt;

    Output(RandomAccessFile file, long max) {
      this.file = file;
      this.max = max;
    }

    /** Waits up to {@code timeout} for {@code p} to end, cutting as it goes; whether it ended. */
    boolean waitFor(Process p, Duration timeout) throws InterruptedException, IOException {
      long deadline = System.nanoTime() + timeout.toNanos();
      while (true) {
        long left = deadline - System.nanoTime();
        long slice = TimeUnit.MILLISECONDS.toNanos(OUTPUT_CHECK_MILLIS);
        if (p.waitFor(Math.max(0, Math.min(left, slice)), TimeUnit.NANOSECONDS)) {
          return true;
        }
        if (left <= 0) {
          return false;
        }
        long len = file.length();
        if (len - cutAt > max) {
          file.setLength(0);
          cutAt = len;
        }
      }
    }

    /** The end of the output, saying how much before it was dropped. */
    String tail() {
      // What the command wrote between the last measure and the cut is lost, and reads as zeros.
      String tail = LogFiles.tail(file, OUTPUT_TAIL, cutAt).replace("\0", "");
      return cutAt == 0
          ? tail
          : "(" + (cutAt >> 20) + " MiB of output dropped: over " + (max >> 20) + " MiB)\n" + tail;
    }
  }

  private CommandRunner() {}

  /** {@code setsid} as the agent's PATH finds it: a document's env PATH never chooses it. */
  static final String SETSID = locateSetsid();

  /** The absolute path of {@code setsid} on the agent's PATH. */
  public static String setsid() {
    return SETSID;
  }

  private static String locateSetsid() {
    Path p = CommandPolicy.ANY.locate("setsid", Path.of("/"));
    return p == null ? "setsid" : p.toString();
  }

  public static Result run(List<String> argv, Path cwd, Map<String, String> env, Duration timeout) {
    return run(CommandPolicy.ANY, argv, cwd, env, timeout);
  }

  /** Runs {@code argv} if {@code policy} allows it (as the absolute path it resolves to). */
  public static Result run(
      CommandPolicy policy,
      List<String> argv,
      Path cwd,
      Map<String, String> env,
      Duration timeout) {
    return run(policy, argv, cwd, env, timeout, new Stopper());
  }

  /**
   * As {@link #run(CommandPolicy, List, Path, Map, Duration)}, stopped early by {@code stopper}.
   */
  public static Result run(
      CommandPolicy policy,
      List<String> argv,
      Path cwd,
      Map<String, String> env,
      Duration timeout,
      Stopper stopper) {
    return run(policy, argv, cwd, env, timeout, stopper, MAX_OUTPUT);
  }

  /**
   * Output a command may have on disk at a time. Its file has no name, so nothing else could clear
   * it: a command printing without pause (`yes`, a loop gone wrong) would otherwise fill the disk,
   * or the memory of a tmpfs /tmp, until its timeout.
   */
  static final long MAX_OUTPUT = 64L << 20;

  /** How often a running command's output is measured against {@link #MAX_OUTPUT}. */
  private static final long OUTPUT_CHECK_MILLIS = 100;

  static Result run(
      CommandPolicy policy,
      List<String> argv,
      Path cwd,
      Map<String, String> env,
      Duration timeout,
      Stopper stopper,
      long maxOutput) {
    long start = System.nanoTime();
    if (stopper.stopped()) {
      return new Result(-1, false, "", 0, true);
    }
    try {
      argv = policy.approve(argv, cwd);
    } catch (CommandPolicy.NotAllowedException e) {
      return new Result(-1, false, e.getMessage(), 0);
    }
    // The output goes to a file that loses its name as soon as the command has it open: nothing is
    // left in /tmp when the agent dies while a command runs (the file goes with the last holder).
    Path out;
    RandomAccessFile output;
    try {
      out = Files.createTempFile(OUTPUT_PREFIX, ".log");
      output = new RandomAccessFile(out.toFile(), "rw");
    } catch (IOException e) {
      return new Result(-1, false, "cannot create output file: " + e.getMessage(), 0);
    }
    try (output) {
      List<String> cmd = new ArrayList<>();
      cmd.add(SETSID);
      cmd.addAll(argv);
      ProcessBuilder pb =
          new ProcessBuilder(cmd)
              .directory(cwd.toFile())
              .redirectErrorStream(true)
              .redirectOutput(out.toFile())
              .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
      pb.environment().putAll(env);
      // Inherited by whatever it starts, even in a session of its own: found and stopped after.
      String id = UUID.randomUUID().toString();
      pb.environment().put("VTRACK_COMMAND_ID", id);
      String mark = "VTRACK_COMMAND_ID=" + id;
      Process p;
      try {
        p = pb.start();
      } catch (IOException e) {
        return new Result(
            -1, false, "cannot start " + argv + ": " + e.getMessage(), elapsed(start));
      } finally {
        delete(out);
      }
      long since = ProcStat.read(p.pid()).map(ProcStat::startTicks).orElse(0L);
      boolean done;
      Output kept = new Output(output, maxOutput);
      try {
        done = stopper.attach(p) && kept.waitFor(p, timeout);
      } finally {
        stopper.detach();
      }
      if (stopper.stopped()) {
        // Stopped after it ended too: what it left in its group goes, as below.
        Signaller.signalGroup(p.pid(), "KILL");
        p.waitFor(10, TimeUnit.SECONDS);
        killLeftBehind(mark, since);
        return new Result(-1, false, kept.tail(), elapsed(start), true);
      }
      if (!done) {
        // setsid made the child a group leader, so its pid is the group to kill.
        Signaller.signalGroup(p.pid(), "KILL");
        p.waitFor(10, TimeUnit.SECONDS);
        killLeftBehind(mark, since);
        return new Result(-1, true, kept.tail(), elapsed(start));
      }
      // Children it left behind in its group go too, so nothing outlives a check.
      Signaller.signalGroup(p.pid(), "KILL");
      killLeftBehind(mark, since);
      int code = p.exitValue();
      String tail = kept.tail();
      if (code == 127 && tail.contains("No such file")) {
        tail = tail + "\n(command not found: " + argv.get(0) + ")";
      }
      return new Result(code, false, tail, elapsed(start));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Result(-1, false, "interrupted", elapsed(start));
    } catch (IOException e) {
      return new Result(-1, false, "cannot read the output: " + e.getMessage(), elapsed(start));
    }
  }

  /** Kills the groups of what the command started in sessions of their own (setsid, daemons). */
  private static void killLeftBehind(String mark, long sinceTicks) {
    for (long group : OrphanScan.groupsMarked(List.of(mark), sinceTicks)) {
      Signaller.signalGroup(group, "KILL");
    }
  }

  /** What {@link #run} names its output files, in the system's temporary folder. */
  private static final String OUTPUT_PREFIX = "vtrack-cmd-";

  /**
   * Deletes the output files in the temporary folder that kept their name for more than {@code
   * olderThan}. A file has its name only from its creation until its command has started, so one
   * older is left by an agent killed in between (a few empty files over a host's life); called at
   * start. Returns how many went.
   */
  public static int sweepLeftOutput(Duration olderThan) {
    // Where Files.createTempFile puts them.
    return sweepLeftOutput(Path.of(System.getProperty("java.io.tmpdir")), olderThan);
  }

  /** {@link #sweepLeftOutput(Duration)} in {@code tmp}. */
  static int sweepLeftOutput(Path tmp, Duration olderThan) {
    long before = System.currentTimeMillis() - olderThan.toMillis();
    int deleted = 0;
    try (var files = Files.newDirectoryStream(tmp, OUTPUT_PREFIX + "*.log")) {
      for (Path f : files) {
        try {
          if (Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS)
              && Files.getLastModifiedTime(f, LinkOption.NOFOLLOW_LINKS).toMillis() < before
              && Files.deleteIfExists(f)) {
            deleted++;
          }
        } catch (IOException e) {
          // Another user's (an agent run as another user): left for the host to clear.
        }
      }
    } catch (IOException | java.nio.file.DirectoryIteratorException e) {
      // The folder is unreadable: left for the host to clear.
    }
    return deleted;
  }

  private static void delete(Path file) {
    try {
      Files.deleteIfExists(file);
    } catch (IOException ignored) {
      // It keeps its name until the host clears /tmp: harmless.
    }
  }

  private static long elapsed(long startNanos) {
    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
  }
}
