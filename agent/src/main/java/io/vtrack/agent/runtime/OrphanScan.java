package io.vtrack.agent.runtime;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Finds the group leaders of app processes that an agent with this state folder started, from
 * {@code /proc}: those whose working folder lies in {@code <stateDir>/deployments/} or whose
 * environment names this state folder ({@code VTRACK_STATE_DIR}), in the agent's own pid and mount
 * namespaces (a compose service's container has that variable too, but it is the engine's to run).
 * Used on start so that the agent never runs a second copy next to processes its store does not
 * account for, and on every stop of a service, for the processes that left its group (a {@code
 * setsid} or daemonized child): they carry the service's {@code VTRACK_INSTANCE} and {@code
 * VTRACK_SERVICE}.
 */
public final class OrphanScan {
  private static final Path PROC = Path.of("/proc");

  private OrphanScan() {}

  /**
   * A process group leader started from this state folder, for {@code deployment}; {@code instance}
   * and {@code service} are the service it was started as or from, when its environment says so
   * (else null).
   */
  public record Found(
      long pid, long pgid, String deployment, String cwd, String instance, String service) {}

  /**
   * The process groups that {@code service} of runtime key {@code instance}, started by the
   * ProcessRuntime of {@code stateFolder} as group {@code pgid} at {@code startTicks}, started in
   * sessions of their own: they would outlive a stop of its group. Only leaders newer than the
   * service are read, so this is cheap enough for every memory check.
   */
  public static List<Long> leftGroup(
      Path stateFolder, String instance, String service, long pgid, long startTicks) {
    return groupsMarked(
            List.of(
                "VTRACK_STATE_DIR=" + stateFolder,
                "VTRACK_INSTANCE=" + instance,
                "VTRACK_SERVICE=" + service),
            startTicks)
        .stream()
        .filter(g -> g != pgid)
        .toList();
  }

  public static List<Found> find(Path stateDir) {
    Path base = stateDir.toAbsolutePath().normalize();
    try {
      base = base.toRealPath();
    } catch (IOException e) {
      // Not there (yet): match the path as given.
    }
    Path deployments = base.resolve("deployments");
    String marker = "VTRACK_STATE_DIR=" + base;
    String marker2 = "VTRACK_STATE_DIR=" + stateDir.toAbsolutePath().normalize();
    List<Found> out = new ArrayList<>();
    long self = ProcessHandle.current().pid();
    String ownPidNamespace = namespace(PROC.resolve("self"), "pid");
    String ownMountNamespace = namespace(PROC.resolve("self"), "mnt");
    try (DirectoryStream<Path> dirs = Files.newDirectoryStream(PROC, "[0-9]*")) {
      for (Path d : dirs) {
        long pid = Long.parseLong(d.getFileName().toString());
        if (pid == self) {
          continue;
        }
        ProcStat st = ProcStat.read(pid).orElse(null);
        if (st == null || !st.alive() || st.pgid() != pid) {
          continue;
        }
        // A process the agent starts shares its pid and mount namespaces; one in another is a
        // container's (compose services get VTRACK_STATE_DIR too), which the engine runs, not the
        // agent. A service with `pid: host` shares the pid namespace, never the mounts.
        if (elsewhere(d, "pid", ownPidNamespace) || elsewhere(d, "mnt", ownMountNamespace)) {
          continue;
        }
        String cwd = cwd(d);
        String name = null;
        if (cwd != null && Path.of(cwd).startsWith(deployments)) {
          Path rel = deployments.relativize(Path.of(cwd));
          name = rel.getNameCount() > 0 ? rel.getName(0).toString() : null;
        }
        List<String> env = environ(d);
        boolean ours = env.contains(marker) || env.contains(marker2);
        if (name == null && ours) {
          name = value(env, "VTRACK_DEPLOYMENT", "");
        }
        if (name != null) {
          out.add(
              new Found(
                  pid,
                  st.pgid(),
                  name,
                  cwd,
                  ours ? value(env, "VTRACK_INSTANCE", null) : null,
                  ours ? value(env, "VTRACK_SERVICE", null) : null));
        }
      }
    } catch (IOException e) {
      // /proc unreadable: nothing can be said.
    }
    return out;
  }

  /**
   * The process groups whose leader started at or after {@code sinceTicks} (clock ticks since boot,
   * as {@code /proc/<pid>/stat} says) with every one of {@code entries} ({@code NAME=value}) in its
   * environment, in the agent's own pid and mount namespaces: what a command or a service left
   * running in sessions of their own. Only leaders that new are read.
   */
  public static List<Long> groupsMarked(List<String> entries, long sinceTicks) {
    List<Long> out = new ArrayList<>();
    String ownPidNamespace = namespace(PROC.resolve("self"), "pid");
    String ownMountNamespace = namespace(PROC.resolve("self"), "mnt");
    try (DirectoryStream<Path> dirs = Files.newDirectoryStream(PROC, "[0-9]*")) {
      for (Path d : dirs) {
        long pid = Long.parseLong(d.getFileName().toString());
        ProcStat st = ProcStat.read(pid).orElse(null);
        if (st != null
            && st.alive()
            && st.pgid() == pid
            && st.startTicks() >= sinceTicks
            && environ(d).containsAll(entries)
            && !elsewhere(d, "pid", ownPidNamespace)
            && !elsewhere(d, "mnt", ownMountNamespace)) {
          out.add(pid);
        }
      }
    } catch (IOException e) {
      // /proc unreadable: nothing can be said.
    }
    return out;
  }

  private static String namespace(Path procDir, String kind) {
    try {
      return Files.readSymbolicLink(procDir.resolve("ns").resolve(kind)).toString();
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /**
   * Whether the process of {@code procDir} is in another {@code kind} namespace than {@code own}.
   */
  private static boolean elsewhere(Path procDir, String kind, String own) {
    String ns = namespace(procDir, kind);
    return own != null && ns != null && !ns.equals(own);
  }

  private static String value(List<String> env, String name, String otherwise) {
    return env.stream()
        .filter(e -> e.startsWith(name + "="))
        .map(e -> e.substring(name.length() + 1))
        .findFirst()
        .orElse(otherwise);
  }

  private static String cwd(Path procDir) {
    try {
      return Files.readSymbolicLink(procDir.resolve("cwd")).toString();
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  private static List<String> environ(Path procDir) {
    try {
      String env =
          new String(Files.readAllBytes(procDir.resolve("environ")), StandardCharsets.UTF_8);
      return List.of(env.split("\0"));
    } catch (IOException | RuntimeException e) {
      return List.of();
    }
  }
}
