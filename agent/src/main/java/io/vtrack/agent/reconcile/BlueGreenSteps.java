package io.vtrack.agent.reconcile;

import io.vtrack.agent.model.Commits;
import io.vtrack.agent.model.DeploymentSpec;
import io.vtrack.agent.model.Reason;
import io.vtrack.agent.model.RuntimeSpec;
import io.vtrack.agent.proxy.ProxySupervisor;
import io.vtrack.agent.proxy.Routes;
import io.vtrack.agent.release.DeploymentPaths;
import io.vtrack.agent.runtime.Runtimes;
import io.vtrack.agent.store.Instance;
import io.vtrack.agent.store.RolloutRecord;
import io.vtrack.agent.store.StateStore;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Blue-green (DESIGN.md §2, strategy): the new release starts beside the live one as a candidate
 * instance in the other colour, on its own loopback ports; once verified, the switch proxy is told
 * to send the public addresses to it (an acknowledged switch), and the old instance stays warm for
 * {@code keepWarm}. A failure before the switch stops the candidate only: the live instance never
 * stopped. Blocking: call from a worker.
 */
final class BlueGreenSteps {
  private static final org.slf4j.Logger LOG =
      org.slf4j.LoggerFactory.getLogger(BlueGreenSteps.class);

  private final StateStore store;
  private final Runtimes runtime;
  private final RolloutSteps steps;
  private final StepRecorder recorder;
  private final ProxySupervisor proxy;
  private final ProxyRoutes proxyRoutes;

  BlueGreenSteps(
      StateStore store,
      Runtimes runtime,
      RolloutSteps steps,
      StepRecorder recorder,
      ProxySupervisor proxy) {
    this.store = store;
    this.runtime = runtime;
    this.steps = steps;
    this.recorder = recorder;
    this.proxy = proxy;
    this.proxyRoutes = new ProxyRoutes(store, proxy);
  }

  /** What the switch proxy serves for each deployment. */
  ProxyRoutes proxyRoutes() {
    return proxyRoutes;
  }

  /** The candidate instance a rollout started (or reused), or null. */
  Instance candidate(String name, long rolloutId) throws Exception {
    for (Instance i : store.instances().of(name)) {
      if (i.role() == Instance.Role.Candidate
          && i.rolloutId() != null
          && i.rolloutId() == rolloutId) {
        return i;
      }
    }
    return null;
  }

  /**
   * Deploying: the candidate beside the live instance. A manual rollback to the commit that is
   * still warm reuses it (a switch back, no restart); otherwise the other colour is cleared and the
   * new revision started there on fresh ports. Returns false when the candidate was recorded before
   * (a stage resumed after a restart or a retry): what of it runs is not known here, and
   * verification first starts what does not run.
   */
  boolean deploy(StageInput in) throws Exception {
    RolloutRecord r = in.rollout();
    String name = in.name();
    if (candidate(name, r.id()) != null) {
      return false;
    }
    Instance live = in.snap().live();
    Instance warm = in.snap().inRole(Instance.Role.Warm);
    if (r.manual() && !r.restoreData() && warm != null && warm.commit().equals(r.toCommit())) {
      recorder.run(
          r,
          "reuse-warm",
          () -> {
            store
                .instances()
                .put(
                    new Instance(
                        name,
                        warm.colour(),
                        warm.commit(),
                        Instance.Role.Candidate,
                        warm.ports(),
                        warm.specJson(),
                        r.id(),
                        warm.startedAt(),
                        null));
            return "the "
                + warm.colour()
                + " instance of "
                + Commits.short7(warm.commit())
                + " is still warm: switching back to it, no restart";
          });
      return true;
    }
    String colour = live == null ? "blue" : Instance.other(live.colour());
    Instance leftover = store.instances().get(name, colour).orElse(null);
    if (leftover != null) {
      recorder.run(
          r,
          "clear-" + colour,
          () -> {
            String said = stop(leftover, Duration.ZERO);
            return StepRecorder.saying(
                "stopped the "
                    + leftover.role().name().toLowerCase()
                    + " "
                    + colour
                    + " instance of "
                    + Commits.short7(leftover.commit()),
                said);
          });
    }
    if (r.manual() && r.restoreData() && !r.dataRestored()) {
      recorder.run(r, "restore", () -> steps.restoreFor(in, r.fromCommit()));
    }
    DeploymentSpec spec = in.spec();
    Instance candidate =
        new Instance(
            name,
            colour,
            r.toCommit(),
            Instance.Role.Candidate,
            freePorts(services(in, spec), spec, store),
            Specs.json(spec),
            r.id(),
            null,
            null);
    store.instances().put(candidate);
    io.vtrack.agent.store.CrashPoints.reach("candidate.recorded");
    Target target = Target.of(candidate, in.paths());
    if (store.rollouts().marks(r.id()).isEmpty()) {
      steps.markLogs(r, spec, in.paths().release(r.toCommit()), target);
    }
    recorder.run(
        r,
        "start",
        () -> {
          steps.start(in, r.toCommit(), spec, target);
          return "started the "
              + colour
              + " instance of "
              + Commits.short7(r.toCommit())
              + " beside "
              + (live == null ? "nothing" : "the live " + live.colour() + " one")
              + " on ports "
              + candidate.ports();
        });
    return true;
  }

  /**
   * The services an instance runs: the document's for processes; for compose, the compose files'
   * (each gets a port, {@code VTRACK_PORT_<NAME>}), every exposed one among them.
   */
  private List<String> services(StageInput in, DeploymentSpec spec) throws Exception {
    if (spec.runtime().type() != RuntimeSpec.RuntimeType.compose) {
      return spec.runtime().services().stream().map(RuntimeSpec.ServiceSpec::name).toList();
    }
    List<String> inFiles =
        runtime.services(
            in.name(), spec.runtime(), steps.ensureRelease(in, in.rollout().toCommit(), spec));
    for (int i = 0; i < spec.runtime().services().size(); i++) {
      String exposed = spec.runtime().services().get(i).name();
      if (!inFiles.contains(exposed)) {
        throw RolloutSteps.commitFailed(
            Reason.StartFailed,
            "spec.runtime.services["
                + i
                + "].name: '"
                + exposed
                + "' is no service of this commit's compose files "
                + inFiles);
      }
    }
    return inFiles;
  }

  /**
   * A free loopback port for every service of the instance, recorded with it: distinct from each
   * other (every socket stays bound until all are chosen, so the kernel cannot hand out one port
   * twice) and from every port an instance in the store already holds, which may not be listening
   * yet (a candidate of another deployment between its allocation and its start), and from the
   * public ports of {@code spec}, which the proxy does not hold before the first switch.
   */
  static Map<String, Integer> freePorts(
      List<String> services, DeploymentSpec spec, StateStore store) throws Exception {
    Set<Integer> recorded = new HashSet<>();
    for (Instance i : store.instances().all()) {
      recorded.addAll(i.ports().values());
    }
    for (RuntimeSpec.ServiceSpec s : spec.runtime().services()) {
      if (s.expose() != null) {
        String listen = s.expose().listen();
        recorded.add(Integer.parseInt(listen.substring(listen.lastIndexOf(':') + 1)));
      }
    }
    Map<String, Integer> out = new LinkedHashMap<>();
    List<ServerSocket> held = new ArrayList<>();
    try {
      for (String s : services) {
        out.put(s, unrecordedPort(recorded, held));
      }
    } finally {
      for (ServerSocket socket : held) {
        socket.close();
      }
    }
    return out;
  }

  private static int unrecordedPort(Set<Integer> recorded, List<ServerSocket> held)
      throws IOException {
    ServerSocket socket =
        io.vtrack.agent.runtime.LoopbackPorts.bindFree(port -> !recorded.contains(port));
    held.add(socket);
    return socket.getLocalPort();
  }

  /**
   * The switch: every public address of the deployment goes to {@code to}, acknowledged by the
   * proxy before this returns. Nothing in the store changes here: the caller records the new roles.
   */
  String switchTo(StageInput in, Instance to, DeploymentSpec spec) throws Exception {
    return recorder.run(
        in.rollout(),
        "switch",
        () -> {
          String before = stopRecreated(in);
          Routes served = proxyRoutes.serve(in.name(), ProxyRoutes.routes(in.name(), spec, to));
          linkLiveLogs(in, to, spec);
          return "the proxy serves "
              + ProxyRoutes.routes(in.name(), spec, to).stream()
                  .map(x -> x.listen() + " -> " + x.upstream())
                  .toList()
              + " ("
              + to.colour()
              + " "
              + Commits.short7(to.commit())
              + ", routes version "
              + served.version()
              + ")"
              + before;
        });
  }

  /**
   * Processes: {@code logs/<service>.log} follows the live instance (a compose service's output is
   * the engine's). A link that cannot be made is logged, never a failed switch: users are served.
   */
  private void linkLiveLogs(StageInput in, Instance live, DeploymentSpec spec) {
    if (spec.runtime().type() == RuntimeSpec.RuntimeType.compose) {
      return;
    }
    try {
      io.vtrack.agent.runtime.LogFiles.linkLive(
          in.paths().logs(),
          live.colour(),
          spec.runtime().services().stream().map(RuntimeSpec.ServiceSpec::name).toList());
    } catch (IOException e) {
      LOG.warn(
          "{}: logs/<service>.log not linked to the live {} instance's: {}",
          in.name(),
          live.colour(),
          e.toString());
    }
  }

  /**
   * The first blue-green rollout after recreate: the release that runs under the deployment's own
   * name holds the public ports, so it stops just before the proxy takes them (once, when the
   * strategy changes). The proxy is started first: between the stop and the proxy's bind the
   * addresses refuse connections, and a proxy started only then would add its JVM's start to that
   * gap (and one that cannot start would leave nothing serving).
   */
  private String stopRecreated(StageInput in) throws Exception {
    if (in.snap().live() != null) {
      return "";
    }
    boolean runs = runtime.observe(in.name()).values().stream().anyMatch(x -> x.alive());
    if (!runs) {
      return "";
    }
    proxyRoutes.ensureProxy();
    DeploymentSpec was = in.snap().specOfWhatRuns();
    runtime.stopAll(in.name(), was == null ? null : was.runtime());
    return "; the release started with recreate was stopped first, to free the public addresses";
  }

  /**
   * The first recreate rollout after blue-green: every instance stops and the proxy gives up the
   * deployment's addresses, which the release now binds itself.
   */
  void retire(StageInput in) throws Exception {
    recorder.run(
        in.rollout(),
        "retire-blue-green",
        () -> {
          List<String> stopped = new ArrayList<>();
          for (Instance i : store.instances().of(in.name())) {
            stop(i, Duration.ZERO);
            stopped.add(i.colour() + " " + Commits.short7(i.commit()));
          }
          proxyRoutes.unroute(in.name());
          io.vtrack.agent.runtime.LogFiles.unlinkLive(in.paths().logs());
          return "the strategy is now recreate: stopped the blue-green instances " + stopped;
        });
  }

  /**
   * Stops an instance: requests in flight to it first finish (at most {@code drain}), then its
   * processes stop and it is forgotten. Returns what was not a clean stop, as {@code stopAll} says
   * it ("" when each service stopped on its signal).
   */
  String stop(Instance i, Duration drain) throws Exception {
    DeploymentSpec spec = Specs.parse(i.specJson());
    if (!drain.isZero()) {
      for (Integer port : i.ports().values()) {
        proxy.drain("127.0.0.1:" + port, drain);
      }
    }
    String said = runtime.stopAll(i.runtimeKey(), spec == null ? null : spec.runtime());
    store.instances().delete(i.deployment(), i.colour());
    return said;
  }

  /** Whether any {@code sqlite} check failed during this rollout's verification: proven damage. */
  boolean dataDamaged(long rolloutId) throws Exception {
    return store.rollouts().checkResults(rolloutId).stream()
        .anyMatch(
            c ->
                "sqlite".equals(c.kind())
                    && "Failing".equals(c.status())
                    && String.valueOf(c.stage()).startsWith("Verifying"));
  }

  /** The logs folder of an instance, for people: {@code logs/<colour>/}. */
  static Path logs(DeploymentPaths paths, Instance i) {
    return paths.logs().resolve(i.colour());
  }
}
