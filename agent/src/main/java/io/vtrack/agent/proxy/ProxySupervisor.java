package io.vtrack.agent.proxy;

import io.vtrack.agent.runtime.ProcStat;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's side of the switch proxy: starts it as a process of its own (in its own session, like
 * a service, so that killing or restarting the agent never interrupts traffic), adopts the one
 * already running, restarts one that died, and switches routes with an acknowledgement — the new
 * routes are written to {@code routes.json}, then the proxy is told to load them and answers the
 * version it now serves. With {@code external} (a sidecar in a DaemonSet) it never starts one.
 * Blocking (processes, HTTP): call from a worker.
 */
public final class ProxySupervisor {
  private static final Logger LOG = LoggerFactory.getLogger(ProxySupervisor.class);
  private static final Duration START_TIMEOUT = Duration.ofSeconds(60);

  private final Path stateDir;
  private final Path tokenFile;
  private final boolean external;
  private final ProxyAdmin admin;
  private final Set<Long> watched = ConcurrentHashMap.newKeySet();
  private volatile Runnable onDeath = () -> {};

  /** Called (on a JDK thread) as soon as a proxy process this agent knows of exits. */
  public void onDeath(Runnable r) {
    this.onDeath = r;
  }

  /** Follows the proxy's process so that its death is seen at once, not at the next check. */
  private void watch(ProxyState s) {
    if (s != null && s.pid() != ProcessHandle.current().pid() && watched.add(s.pid())) {
      ProcessHandle.of(s.pid())
          .ifPresent(
              h ->
                  h.onExit()
                      .thenRun(
                          () -> {
                            watched.remove(s.pid());
                            forgetReported();
                            onDeath.run();
                          }));
    }
  }

  /** A switch the proxy did not acknowledge: the agent's problem, retried, never the commit's. */
  public static final class ProxyUnavailableException extends IOException {
    public ProxyUnavailableException(String message) {
      super(message);
    }
  }

  /** A supervisor for a proxy that reads the token from {@code <stateDir>/api-token}. */
  public ProxySupervisor(Path stateDir, String token, boolean external) {
    this(stateDir, stateDir.resolve("api-token"), token, external);
  }

  /**
   * @param tokenFile the file the agent's API token {@code token} is in, which a proxy it starts
   *     reads
   */
  public ProxySupervisor(Path stateDir, Path tokenFile, String token, boolean external) {
    this.stateDir = stateDir.toAbsolutePath();
    this.tokenFile = tokenFile.toAbsolutePath();
    this.external = external;
    this.admin = new ProxyAdmin(token);
  }

  /** Whether the proxy runs as a sidecar (never started by this agent). */
  public boolean external() {
    return external;
  }

  /**
   * How long a proxy that runs but does not answer is waited for before it is replaced. Replacing
   * it closes every connection users have open, so a proxy starved of CPU on a busy host (or paused
   * by the OS) is given as long as a Kubernetes liveness probe would give it; one that has exited
   * is replaced at once.
   */
  public static final Duration WEDGED_AFTER = Duration.ofSeconds(15);

  /** Since when the proxy with pid {@link #silentPid} has run without answering, or 0. */
  private volatile long silentSinceNanos;

  private volatile long silentPid;

  /** Why the last proxy this agent started never answered, until one answers; or null. */
  private volatile String startFailure;

  /** Why the last proxy this agent started never answered (none answers since), or null. */
  public String startFailure() {
    return startFailure;
  }

  /** Failed starts in a row, and when the next start may be tried (capped exponential backoff). */
  private int failedStarts;

  private long nextStartNanos;

  private ProxyUnavailableException startFailed(String why) {
    failedStarts++;
    long backoff = Math.min(30, 1L << Math.min(failedStarts - 1, 5));
    nextStartNanos = System.nanoTime() + Duration.ofSeconds(backoff).toNanos();
    startFailure = why + "; the agent tries again " + backoff + "s after that";
    return new ProxyUnavailableException(startFailure);
  }

  private void started() {
    startFailure = null;
    failedStarts = 0;
  }

  /** Makes sure a proxy runs (adopting the one there is), when routes exist to serve. */
  public synchronized ProxyState ensure() throws IOException {
    ProxyState s = ProxyState.read(stateDir);
    if (s != null && admin.answers(s)) {
      started();
      silentSinceNanos = 0;
      watch(s);
      return s;
    }
    if (external) {
      throw new ProxyUnavailableException(
          "the switch proxy (a sidecar) does not answer at "
              + (s == null ? ProxyState.file(stateDir) : s.adminUrl()));
    }
    if (s != null && ProcStat.read(s.pid()).map(ProcStat::alive).orElse(false)) {
      long now = System.nanoTime();
      if (silentSinceNanos == 0 || silentPid != s.pid()) {
        silentPid = s.pid();
        silentSinceNanos = now;
      }
      if (now - silentSinceNanos < WEDGED_AFTER.toNanos()) {
        throw new ProxyUnavailableException(
            "the switch proxy (pid "
                + s.pid()
                + ") runs but does not answer (a busy host, or wedged); it is replaced if it"
                + " stays silent for "
                + WEDGED_AFTER.toSeconds()
                + "s");
      }
      LOG.warn(
          "switch proxy (pid {}) silent for {}s: replacing it", s.pid(), WEDGED_AFTER.toSeconds());
      io.vtrack.agent.runtime.Signaller.stopGroup(s.pid(), "KILL", Duration.ofSeconds(5));
    } else if (s != null) {
      LOG.warn("switch proxy (pid {}) has exited: starting it again", s.pid());
    }
    if (failedStarts > 0 && System.nanoTime() < nextStartNanos) {
      throw new ProxyUnavailableException(startFailure);
    }
    silentSinceNanos = 0;
    Files.deleteIfExists(ProxyState.file(stateDir));
    forgetReported();
    Path log = stateDir.resolve("proxy/proxy.log");
    long logFrom = Files.exists(log) ? Files.size(log) : 0;
    Process process = ProxyProcess.start(stateDir, tokenFile);
    long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
    while (System.nanoTime() < deadline) {
      ProxyState started = ProxyState.read(stateDir);
      if (started != null && admin.answers(started)) {
        LOG.info("switch proxy started (pid {}, admin {})", started.pid(), started.adminUrl());
        started();
        watch(started);
        return started;
      }
      if (!process.isAlive() && process.exitValue() != 0) {
        // It will not answer: say why now rather than after the start timeout. (Exit code 0
        // would be a setsid that forked, its child the proxy: that one is waited for.)
        throw startFailed(
            "the switch proxy exited with code "
                + process.exitValue()
                + " as it started: "
                + io.vtrack.agent.runtime.LogFiles.tail(log, 600, logFrom).strip()
                + " (see "
                + log
                + ")");
      }
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    process.destroyForcibly();
    throw startFailed(
        "the switch proxy did not start within " + START_TIMEOUT.toSeconds() + "s; see " + log);
  }

  /**
   * Serves {@code routes} (their version is made newer than what was served): written, loaded and
   * acknowledged by the proxy, else an exception and nothing switched on the agent's side.
   */
  public synchronized Routes switchTo(List<Routes.Route> routes) throws IOException {
    Path file = Routes.file(stateDir);
    long next;
    try {
      next = Routes.read(file).version() + 1;
    } catch (IOException unreadable) {
      // Replaced by what the agent serves: newer than what a running proxy still serves.
      Map<String, Object> st = status();
      next = (st != null && st.get("version") instanceof Number n ? n.longValue() : 0) + 1;
      LOG.warn("{}; written again", unreadable.getMessage());
    }
    Routes r = new Routes(next, routes);
    r.write(file);
    ProxyState s = ensure();
    long served;
    try {
      served = admin.reload(s);
    } finally {
      forgetReported();
    }
    if (served < next) {
      throw new ProxyUnavailableException(
          "the switch proxy serves routes version " + served + ", not " + next);
    }
    return r;
  }

  /**
   * Serves {@code change} applied to the routes written last, as one step: deployments switching at
   * the same time never write back each other's old routes. When routes.json is lost or cannot be
   * read, {@code change} applies to what the running proxy serves: the first deployment to write
   * its routes again must not drop the others' (their addresses would stop answering until each
   * wrote its own).
   */
  public synchronized Routes switchWith(UnaryOperator<List<Routes.Route>> change)
      throws IOException {
    Path file = Routes.file(stateDir);
    List<Routes.Route> now;
    try {
      now = Files.exists(file) ? Routes.read(file).routes() : served();
    } catch (IOException unreadable) {
      now = served();
    }
    return switchTo(change.apply(now));
  }

  /** The routes the running proxy serves, as its status lists them; none when none answers. */
  private List<Routes.Route> served() {
    Map<String, Object> st = status();
    List<Routes.Route> out = new ArrayList<>();
    if (st != null && st.get("routes") instanceof List<?> routes) {
      for (Object o : routes) {
        if (o instanceof Map<?, ?> m
            && m.get("listen") instanceof String listen
            && m.get("deployment") instanceof String deployment) {
          out.add(
              new Routes.Route(
                  listen,
                  deployment,
                  (String) m.get("service"),
                  (String) m.get("upstream"),
                  (String) m.get("instance"),
                  m.get("drainMillis") instanceof Number n ? n.longValue() : 0,
                  Boolean.TRUE.equals(m.get("held"))));
        }
      }
    }
    return out;
  }

  /**
   * The routes written last (what the proxy serves, or will once it runs); none when routes.json is
   * lost or cannot be read (each deployment's reconcile writes its own again: Step.Reroute).
   */
  public List<Routes.Route> routes() {
    try {
      return Routes.read(Routes.file(stateDir)).routes();
    } catch (IOException unreadable) {
      return List.of();
    }
  }

  /** Stops the proxy this agent started (nothing left to serve); a sidecar is left alone. */
  public synchronized void stop() {
    ProxyState s = ProxyState.read(stateDir);
    if (external || s == null) {
      return;
    }
    watched.remove(s.pid());
    forgetReported();
    io.vtrack.agent.runtime.Signaller.stopGroup(s.pid(), "TERM", Duration.ofSeconds(10));
    try {
      Files.deleteIfExists(ProxyState.file(stateDir));
    } catch (IOException e) {
      LOG.debug("proxy.json: {}", e.getMessage());
    }
    LOG.info("switch proxy stopped: no address left to serve");
  }

  /** A status the proxy gave, when, and after which change. */
  private record Reported(long atNanos, long change, Map<String, Object> status) {}

  private static final long REPORTED_MAX_AGE_NANOS = Duration.ofSeconds(1).toNanos();

  /** The last status asked for a report; forgotten on every change this agent makes. */
  private volatile Reported reported;

  /** Counts those changes: a status asked before one is not kept after it. */
  private final AtomicLong changes = new AtomicLong();

  private void forgetReported() {
    changes.incrementAndGet();
    reported = null;
  }

  /**
   * What the proxy says of itself for a deployment's status: asked at most once a second, and
   * afresh after every switch, start, stop or death of the proxy — not once per reconcile step. (It
   * retries an address it cannot listen on every second, so a second is as fresh as it gets.)
   */
  public Map<String, Object> reportedStatus() {
    Reported r = reported;
    long now = System.nanoTime();
    long change = changes.get();
    if (r != null && r.change() == change && now - r.atNanos() < REPORTED_MAX_AGE_NANOS) {
      return r.status();
    }
    Map<String, Object> st = status();
    if (changes.get() == change) {
      reported = new Reported(now, change, st);
    }
    return st;
  }

  /** What the proxy says of itself (routes, requests in flight by upstream), or null. */
  public Map<String, Object> status() {
    ProxyState s = ProxyState.read(stateDir);
    Map<String, Object> st = s == null ? null : admin.status(s);
    if (st != null) {
      // A proxy this agent adopted is followed from its first answer: its death is seen at once.
      silentSinceNanos = 0;
      watch(s);
    }
    return st;
  }

  /**
   * Waits until the proxy has no request in flight to {@code upstream} (host:port), at most {@code
   * timeout}: what drains an instance before it stops.
   */
  @SuppressWarnings("unchecked")
  public void drain(String upstream, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      Map<String, Object> st = status();
      if (st == null) {
        return;
      }
      Object n = ((Map<String, Object>) st.getOrDefault("inflight", Map.of())).get(upstream);
      if (n == null || ((Number) n).intValue() <= 0) {
        return;
      }
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }
}
