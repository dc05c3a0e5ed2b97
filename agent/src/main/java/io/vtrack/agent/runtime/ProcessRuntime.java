package io.vtrack.agent.runtime;

import io.vtrack.agent.model.RuntimeSpec.ServiceSpec;
import io.vtrack.agent.store.ProcessRepository.ProcessRow;
import io.vtrack.agent.store.StateStore;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a deployment's services as plain processes. Each service starts through {@code setsid} in a
 * session and process group of its own, with its output going straight to {@code
 * logs/<service>.log}: the agent holds no pipe, so killing the agent never kills the app. PID,
 * process group and start time are recorded so that a restarted agent adopts what it finds.
 *
 * <p>All methods block (process control and JDBC): call them from a worker.
 */
public final class ProcessRuntime implements AppRuntime {
  private static final Logger LOG = LoggerFactory.getLogger(ProcessRuntime.class);

  private record Key(String deployment, String service) {}

  private record Watched(long pid, long startTicks) {}

  private final StateStore store;
  private final BiConsumer<String, String> onUnexpectedExit;
  private final Map<Key, Watched> watched = new ConcurrentHashMap<>();
  private final Map<Key, Integer> exitCodes = new ConcurrentHashMap<>();
  private final Map<Key, String> exits = new ConcurrentHashMap<>();

  /** Where each service's log file ended when it was started: its own output follows. */
  private final Map<Key, Long> logOffsets = new ConcurrentHashMap<>();

  /**
   * @param onUnexpectedExit called with (deployment, service) when a service exits without being
   *     asked to; it runs on a JDK thread and must only hand the event on.
   */
  public ProcessRuntime(StateStore store, BiConsumer<String, String> onUnexpectedExit) {
    this(store, onUnexpectedExit, CommandPolicy.ANY);
  }

  /**
   * @param policy allowedCommands, enforced again at every start (the resolved path is what runs)
   */
  public ProcessRuntime(
      StateStore store, BiConsumer<String, String> onUnexpectedExit, CommandPolicy policy) {
    this.store = store;
    this.onUnexpectedExit = onUnexpectedExit;
    this.policy = policy;
  }

  private final CommandPolicy policy;

  @Override
  public void start(
      String deployment,
      String commit,
      Path releaseDir,
      io.vtrack.agent.model.RuntimeSpec spec,
      Path logsDir,
      Map<String, String> env)
      throws IOException, SQLException {
    start(deployment, commit, releaseDir, spec.services(), logsDir, env);
  }

  @Override
  public void restart(
      String deployment,
      String commit,
      Path releaseDir,
      io.vtrack.agent.model.RuntimeSpec spec,
      List<String> services,
      Path logsDir,
      Map<String, String> env)
      throws IOException, SQLException {
    for (ServiceSpec s : spec.services()) {
      if (services.contains(s.name())) {
        stopService(deployment, s);
        startService(deployment, commit, releaseDir, s, logsDir, env);
      }
    }
  }

  @Override
  public String stopAll(String deployment, io.vtrack.agent.model.RuntimeSpec spec)
      throws SQLException {
    return stopAll(deployment, spec == null ? List.of() : spec.services());
  }

  /** Starts every service of {@code commit} from {@code releaseDir}; logs go to {@code logsDir}. */
  public void start(
      String deployment,
      String commit,
      Path releaseDir,
      List<ServiceSpec> services,
      Path logsDir,
      Map<String, String> extraEnv)
      throws IOException, SQLException {
    for (ServiceSpec s : services) {
      startService(deployment, commit, releaseDir, s, logsDir, extraEnv);
    }
  }

  public void startService(
      String deployment,
      String commit,
      Path releaseDir,
      ServiceSpec s,
      Path logsDir,
      Map<String, String> extraEnv)
      throws IOException, SQLException {
    Path log = LogFiles.ownerOnly(logsDir, s.name() + ".log");
    LogFiles.rotateIfNeeded(log, LogFiles.DEFAULT_MAX_BYTES, LogFiles.DEFAULT_KEEP);
    long logOffset = Files.exists(log) ? Files.size(log) : 0;
    // Never through a link out of the release (or its shared/ folder, through the shared links).
    Path cwd =
        io.vtrack.agent.release.ConfinedPath.realInside(
            releaseDir, s.cwd(), releaseDir.getParent().getParent().resolve("shared"));
    List<String> cmd = new ArrayList<>();
    cmd.add(CommandRunner.SETSID);
    cmd.addAll(policy.approve(s.command(), cwd));
    ProcessBuilder pb =
        new ProcessBuilder(cmd)
            .directory(cwd.toFile())
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
    pb.environment().putAll(extraEnv);
    pb.environment().putAll(EnvFiles.read(s.envFrom()));
    pb.environment().putAll(s.env());
    // What finds a process that left the service's group (setsid, a daemonizing child) when the
    // service stops: the environment is inherited.
    pb.environment().put("VTRACK_STATE_DIR", store.folder().toString());
    pb.environment().put("VTRACK_INSTANCE", deployment);
    pb.environment().put("VTRACK_SERVICE", s.name());
    Process p = pb.start();
    long pid = p.pid();
    // setsid execs in place (the child is not a group leader), so pid == pgid == sid.
    long ticks = ProcStat.read(pid).map(ProcStat::startTicks).orElse(0L);
    Key key = new Key(deployment, s.name());
    exitCodes.remove(key);
    exits.remove(key);
    logOffsets.put(key, logOffset);
    watched.put(key, new Watched(pid, ticks));
    store.processes().put(new ProcessRow(deployment, s.name(), commit, pid, pid, ticks, null));
    LOG.info("{}: started {} (pid {}) of {}", deployment, s.name(), pid, short7(commit));
    p.onExit().thenAccept(done -> exited(key, pid, done.exitValue()));
  }

  /** The output of the service's latest start only, not earlier runs' lines in the same log. */
  @Override
  public String lastOutput(String deployment, String service, Path logsDir) {
    Long since = logOffsets.get(new Key(deployment, service));
    return LogFiles.tail(logsDir.resolve(service + ".log"), 600, since == null ? 0 : since);
  }

  private void exited(Key key, long pid, Integer code) {
    Watched w = watched.get(key);
    if (w == null || w.pid() != pid) {
      return;
    }
    watched.remove(key);
    if (code != null) {
      exitCodes.put(key, code);
    }
    exits.put(
        key,
        key.service()
            + " (pid "
            + pid
            + ") exited"
            + (code == null ? "" : " with code " + code)
            // The usual cause of a clean exit: a start script that puts the app in the
            // background (`&`, nohup, a daemon mode) and returns.
            + (code != null && code == 0
                ? " (a service's command must keep running in the foreground)"
                : ""));
    LOG.warn(
        "{}: service {} (pid {}) exited{}",
        key.deployment(),
        key.service(),
        pid,
        code == null ? "" : " with code " + code);
    onUnexpectedExit.accept(key.deployment(), key.service());
  }

  /**
   * Stops every service of a deployment: the configured signal to each process group, KILL after
   * the timeout. Services not in {@code specs} (e.g. removed from the spec) get TERM and 10s.
   * Returns what is worth telling about it (a service killed after its timeout, processes out of
   * its group), or "" when each service stopped on its signal.
   */
  public String stopAll(String deployment, List<ServiceSpec> specs) throws SQLException {
    Map<String, ServiceSpec> bySpec = new LinkedHashMap<>();
    for (ServiceSpec s : specs) {
      bySpec.put(s.name(), s);
    }
    List<ProcessRow> rows = store.processes().of(deployment);
    // Stop in parallel: each group gets its own grace period, not the sum of all of them.
    List<Thread> stoppers = new ArrayList<>();
    Map<String, String> notes = new java.util.concurrent.ConcurrentSkipListMap<>();
    for (ProcessRow row : rows) {
      watched.remove(new Key(deployment, row.service()));
      exits.remove(new Key(deployment, row.service()));
      ServiceSpec spec = bySpec.get(row.service());
      String signal = spec == null ? "TERM" : spec.stop().signal();
      Duration timeout = spec == null ? Duration.ofSeconds(10) : spec.stop().timeout().duration();
      Thread t =
          new Thread(
              () -> {
                String note = ServiceStop.run(store.folder(), row, signal, timeout);
                if (!note.isEmpty()) {
                  notes.put(row.service(), note);
                }
              },
              "vtrack-stop-" + deployment + "-" + row.service());
      t.start();
      stoppers.add(t);
    }
    for (Thread t : stoppers) {
      try {
        t.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    for (ProcessRow row : rows) {
      store.processes().delete(deployment, row.service());
    }
    return String.join("; ", notes.values());
  }

  /**
   * Services of a deployment that exited without being asked to since they were started, with a
   * description each. In memory and cheap: safe to call from the event loop.
   */
  @Override
  public List<String> unexpectedExits(String deployment) {
    List<String> out = new ArrayList<>();
    exits.forEach(
        (k, v) -> {
          if (k.deployment().equals(deployment)) {
            out.add(v);
          }
        });
    return out;
  }

  /** Stops one service (for a restart). */
  public void stopService(String deployment, ServiceSpec spec) throws SQLException {
    for (ProcessRow row : store.processes().of(deployment)) {
      if (row.service().equals(spec.name())) {
        watched.remove(new Key(deployment, row.service()));
        exits.remove(new Key(deployment, row.service()));
        ServiceStop.run(
            store.folder(), row, spec.stop().signal(), spec.stop().timeout().duration());
        store.processes().delete(deployment, row.service());
      }
    }
  }

  /** The state of each recorded service of a deployment. */
  @Override
  public Map<String, ServiceState> observe(String deployment) throws SQLException {
    Map<String, ServiceState> out = new LinkedHashMap<>();
    for (ProcessRow row : store.processes().of(deployment)) {
      boolean alive = ProcStat.isAlive(row.pid(), row.startTicks());
      out.put(
          row.service(),
          new ServiceState(
              row.service(),
              row.commit(),
              row.pid(),
              alive,
              exitCodes.get(new Key(deployment, row.service()))));
    }
    return out;
  }

  /**
   * Watches the recorded processes that still run after an agent restart, so their exits are seen;
   * returns the services found dead.
   */
  public List<ProcessRow> adopt() throws SQLException {
    List<ProcessRow> dead = new ArrayList<>();
    for (ProcessRow row : store.processes().all()) {
      Key key = new Key(row.deployment(), row.service());
      if (watched.containsKey(key)) {
        continue;
      }
      Optional<ProcessHandle> h = ProcessHandle.of(row.pid());
      if (h.isPresent() && ProcStat.isAlive(row.pid(), row.startTicks())) {
        watched.put(key, new Watched(row.pid(), row.startTicks()));
        h.get().onExit().thenAccept(done -> exited(key, row.pid(), null));
        LOG.info(
            "{}: adopted {} (pid {}) of {}",
            row.deployment(),
            row.service(),
            row.pid(),
            short7(row.commit()));
      } else {
        dead.add(row);
      }
    }
    return dead;
  }

  /**
   * Caps captured output: rotates every {@code logs/*.log} and {@code logs/<colour>/*.log} of every
   * deployment under {@code deploymentsDir} that grew past the limit. Returns the files rotated.
   */
  public static List<Path> rotateLogs(Path deploymentsDir) throws IOException {
    List<Path> rotated = new ArrayList<>();
    if (!Files.isDirectory(deploymentsDir)) {
      return rotated;
    }
    try (var deployments = Files.list(deploymentsDir)) {
      for (Path dep : deployments.toList()) {
        Path logs = dep.resolve("logs");
        if (!Files.isDirectory(logs)) {
          continue;
        }
        // logs/<service>.log, and logs/<colour>/<service>.log with blue-green.
        List<Path> files;
        try (var walk = Files.walk(logs, 2)) {
          files =
              walk.filter(
                      x ->
                          x.toString().endsWith(".log")
                              // Not logs/<service>.log linked to the live colour's: that is
                              // rotated as itself.
                              && Files.isRegularFile(x, java.nio.file.LinkOption.NOFOLLOW_LINKS))
                  .toList();
        } catch (IOException | java.io.UncheckedIOException e) {
          continue; // the deployment's folder went meanwhile
        }
        for (Path f : files) {
          try {
            if (LogFiles.rotateIfNeeded(f, LogFiles.DEFAULT_MAX_BYTES, LogFiles.DEFAULT_KEEP)) {
              rotated.add(f);
            }
          } catch (IOException e) {
            // Gone meanwhile (a colour removed), or the disk is full: the next pass tries again.
          }
        }
      }
    }
    return rotated;
  }

  /**
   * Resident memory in bytes of a service's whole process group and of the groups of children that
   * left it, or -1 when it is not running.
   */
  @Override
  public long residentBytes(String deployment, String service) throws SQLException {
    for (ProcessRow row : store.processes().of(deployment)) {
      if (row.service().equals(service) && ProcStat.isAlive(row.pid(), row.startTicks())) {
        List<Long> groups = new ArrayList<>(List.of(row.pgid()));
        groups.addAll(
            OrphanScan.leftGroup(
                store.folder(), deployment, service, row.pgid(), row.startTicks()));
        long pages = 0;
        for (long g : groups) {
          for (ProcStat m : ProcStat.groupMembers(g)) {
            pages += m.rssPages();
          }
        }
        return pages * 4096L;
      }
    }
    return -1;
  }

  static String short7(String commit) {
    return io.vtrack.agent.model.Commits.short7(commit);
  }
}
