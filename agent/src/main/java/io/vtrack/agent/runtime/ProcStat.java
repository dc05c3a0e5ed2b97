package io.vtrack.agent.runtime;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** What {@code /proc/<pid>/stat} says about a process: state, process group and start time. */
public record ProcStat(long pid, char state, long ppid, long pgid, long startTicks, long rssPages) {
  private static final Path PROC = Path.of("/proc");

  /** Reads the stat line of a process; empty when it is gone. */
  public static Optional<ProcStat> read(long pid) {
    try {
      return Optional.of(
          parse(pid, Files.readString(PROC.resolve(Long.toString(pid)).resolve("stat"))));
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  static ProcStat parse(long pid, String line) {
    // The command name may hold spaces and parentheses; fields resume after the last ')'.
    String[] f = line.substring(line.lastIndexOf(')') + 2).trim().split(" ");
    return new ProcStat(
        pid,
        f[0].charAt(0),
        Long.parseLong(f[1]),
        Long.parseLong(f[2]),
        Long.parseLong(f[19]),
        Long.parseLong(f[21]));
  }

  /** Alive means present and not a zombie waiting to be reaped. */
  public boolean alive() {
    return state != 'Z' && state != 'X';
  }

  /** Whether the process with this pid is the same one that was started at {@code startTicks}. */
  public static boolean isAlive(long pid, long startTicks) {
    return read(pid).filter(s -> s.alive() && s.startTicks() == startTicks).isPresent();
  }

  /** Living members of a process group. */
  public static List<ProcStat> groupMembers(long pgid) {
    List<ProcStat> out = new ArrayList<>();
    try (DirectoryStream<Path> dirs = Files.newDirectoryStream(PROC, "[0-9]*")) {
      for (Path d : dirs) {
        read(Long.parseLong(d.getFileName().toString()))
            .filter(s -> s.pgid() == pgid && s.alive())
            .ifPresent(out::add);
      }
    } catch (IOException e) {
      // /proc unreadable: report nothing rather than guess.
    }
    return out;
  }
}
