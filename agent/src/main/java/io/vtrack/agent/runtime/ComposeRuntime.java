package io.vtrack.agent.runtime;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.model.Container;
import com.github.dockerjava.api.model.Event;
import com.github.dockerjava.core.DefaultDockerClientConfig;
import com.github.dockerjava.core.DockerClientImpl;
import com.github.dockerjava.zerodep.ZerodepDockerHttpClient;
import io.vtrack.agent.model.RuntimeSpec;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.BiConsumer;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a deployment as a docker-compose project: the release's compose files plus a generated
 * override that tags every image built from the release per commit (so a rollback runs the old
 * commit's images, never the new ones) and labels every container with its deployment and commit.
 * The compose CLI applies it ({@link ComposeFiles}); the engine is observed through docker-java
 * (containers by label, their state and health, their logs) and its event stream ({@link
 * DockerEvents}).
 *
 * <p>All methods but {@link #unexpectedExits} and {@link #onEvent} block: call them from a worker.
 */
public final class ComposeRuntime implements AppRuntime {
  private static final Logger LOG = LoggerFactory.getLogger(ComposeRuntime.class);

  public static final String LABEL_DEPLOYMENT = "io.vtrack.deployment";
  public static final String LABEL_COMMIT = "io.vtrack.commit";
  public static final String LABEL_PROJECT = "com.docker.compose.project";
  public static final String LABEL_SERVICE = "com.docker.compose.service";

  private static final Duration UP_TIMEOUT = Duration.ofMinutes(10);

  private final DockerClient docker;
  private final ComposeCli cli;
  private final ComposeFiles files;
  private final ComposeImages images;
  private final EngineContainers engine;
  private final ContainerExits exits;
  private final ContainerStop stops;

  private DockerEvents events;

  /** A client with a short response timeout, for asking whether the engine answers at all. */
  private DockerClient probe;

  /** For log streams, which may stay silent longer than any response timeout. */
  private final DockerClient streams;

  /**
   * @param onChange called with (deployment, service) when the engine reports something about a
   *     container of a deployment that the agent did not cause (it died, turned unhealthy, was
   *     removed); it runs on the events thread and must only hand the event on.
   */
  public ComposeRuntime(DockerClient docker, ComposeCli cli, BiConsumer<String, String> onChange) {
    this(docker, docker, cli, onChange);
  }

  /**
   * @param streams for log streams, which may stay silent longer than any response timeout
   */
  private ComposeRuntime(
      DockerClient docker,
      DockerClient streams,
      ComposeCli cli,
      BiConsumer<String, String> onChange) {
    this.docker = docker;
    this.streams = streams;
    this.cli = cli;
    this.exits = new ContainerExits(onChange);
    this.files = new ComposeFiles(cli);
    this.images = new ComposeImages(docker, cli, files);
    this.engine = new EngineContainers(docker, streams);
    this.stops = new ContainerStop(docker, streams, exits);
  }

  public ComposeCli cli() {
    return cli;
  }

  /**
   * Connects to the engine ({@code DOCKER_HOST} or the default socket), finds the compose CLI (v2,
   * else v1, unless {@code cli} is given) and follows the engine's events; {@code onReconnect} runs
   * each time the event stream (re)connects, for a resync; reconnecting runs on {@code vertx}'s
   * timers.
   */
  public static ComposeRuntime open(
      io.vertx.core.Vertx vertx,
      ComposeCli cli,
      BiConsumer<String, String> onChange,
      Runnable onReconnect)
      throws Runtimes.RuntimeUnavailableException {
    var config = DefaultDockerClientConfig.createDefaultConfigBuilder().build();
    DockerClient docker = client(config, Duration.ofMinutes(2));
    try {
      docker.pingCmd().exec();
    } catch (RuntimeException e) {
      throw new Runtimes.RuntimeUnavailableException(
          "spec.runtime.type: compose needs a Docker Engine; none answers at "
              + config.getDockerHost()
              + " ("
              + e.getMessage()
              + ")");
    }
    ComposeCli found = cli != null ? cli : ComposeCli.detect();
    if (found == null) {
      throw new Runtimes.RuntimeUnavailableException(
          "spec.runtime.type: compose needs the compose CLI; neither 'docker compose' nor"
              + " 'docker-compose' runs on this host");
    }
    ComposeRuntime rt = new ComposeRuntime(docker, client(config, null), found, onChange);
    rt.probe = client(config, Duration.ofSeconds(5));
    rt.events = new DockerEvents(vertx, client(config, null), rt::onEvent, onReconnect).start();
    LOG.info("compose runtime: {} against {}", found.describe(), config.getDockerHost());
    return rt;
  }

  static DockerClient client(DefaultDockerClientConfig config, Duration responseTimeout) {
    var http =
        new ZerodepDockerHttpClient.Builder()
            .dockerHost(config.getDockerHost())
            .sslConfig(config.getSSLConfig())
            .connectionTimeout(Duration.ofSeconds(10));
    if (responseTimeout != null) {
      http = http.responseTimeout(responseTimeout);
    }
    return DockerClientImpl.getInstance(config, http.build());
  }

  /**
   * Whether the engine answers now (a ping, at most 5 s): a failure while it does not is the
   * host's, never the commit's.
   */
  @Override
  public boolean reachable() {
    try {
      (probe != null ? probe : docker).pingCmd().exec();
      return true;
    } catch (RuntimeException e) {
      return false;
    }
  }

  /** Whether the engine's event stream is connected now. */
  public boolean eventsConnected() {
    return events != null && events.connected();
  }

  /** Stops following the engine's events; a runtime made by {@link #open} closes its clients. */
  public void close() {
    if (events != null) {
      events.close();
    }
    if (probe != null) {
      for (DockerClient own : List.of(probe, streams, docker)) {
        try {
          own.close();
        } catch (IOException | RuntimeException e) {
          LOG.debug("closing a Docker client: {}", e.toString());
        }
      }
    }
  }

  /**
   * The compose project of a runtime key: the document's {@code compose.project} (default: the
   * deployment's name), and with blue-green one per colour ({@code name@blue} → {@code
   * <project>-blue}).
   */
  public static String project(String deployment, RuntimeSpec spec) {
    int at = deployment.indexOf('@');
    String base = baseProject(at < 0 ? deployment : deployment.substring(0, at), spec);
    return at < 0 ? base : base + "-" + deployment.substring(at + 1);
  }

  /** The project without a colour: what per-commit image names are made from. */
  static String baseProject(String deployment, RuntimeSpec spec) {
    int at = deployment.indexOf('@');
    String name = at < 0 ? deployment : deployment.substring(0, at);
    RuntimeSpec.ComposeSpec c = spec.compose();
    return c != null && c.project() != null && !c.project().isBlank() ? c.project() : name;
  }

  /** The image a service built from the release gets: one tag per commit. */
  public static String imageFor(String project, String service, String commit) {
    return ("vtrack/" + project + "-" + service).toLowerCase(Locale.ROOT) + ":" + commit;
  }

  /**
   * The host paths the release's services bind-mount, as {@code compose config} resolves them with
   * {@code env} (a preview checks that none of them is the live data).
   */
  public List<String> bindSources(
      String deployment, Path releaseDir, RuntimeSpec spec, Map<String, String> env)
      throws ComposeConfigException {
    return files.bindSources(deployment, releaseDir, spec, env);
  }

  @Override
  public List<String> services(String deployment, RuntimeSpec spec, Path releaseDir)
      throws ComposeConfigException {
    return files.model(deployment, releaseDir, spec, Map.of()).services();
  }

  @Override
  public String sideBySideProblem(String deployment, RuntimeSpec spec, Path releaseDir)
      throws ComposeConfigException {
    ComposeFiles.Model m = files.model(deployment, releaseDir, spec, Map.of());
    List<String> problems = new ArrayList<>();
    if (!m.containerNames().isEmpty()) {
      problems.add(
          "the compose files give "
              + m.containerNames().entrySet().stream()
                  .map(e -> e.getKey() + " the container_name " + e.getValue())
                  .collect(Collectors.joining(", "))
              + ": a container with a fixed name cannot run beside the live one (the new release"
              + " is created while the old one runs); remove container_name, containers are named"
              + " by their project ("
              + baseProject(deployment, spec)
              + "-blue, "
              + baseProject(deployment, spec)
              + "-green)");
    }
    if (!m.projectVolumes().isEmpty()) {
      problems.add(
          "the compose files declare the volume"
              + (m.projectVolumes().size() > 1 ? "s " : " ")
              + String.join(", ", m.projectVolumes())
              + ", of which each colour's project gets its own copy: the new release would start"
              + " on an empty one. Keep data in sharedPaths (bind-mounted from ${VTRACK_SHARED},"
              + " backed up and restored), or give the volume a fixed `name:` or make it"
              + " `external` so that both colours use the same one");
    }
    return problems.isEmpty() ? null : String.join("; ", problems);
  }

  @Override
  public String build(
      String deployment,
      String commit,
      Path releaseDir,
      RuntimeSpec spec,
      Map<String, String> env,
      CommandRunner.Stopper stopper)
      throws Exception {
    return images.build(deployment, commit, releaseDir, spec, env, stopper);
  }

  @Override
  public void start(
      String deployment,
      String commit,
      Path releaseDir,
      RuntimeSpec spec,
      Path logsDir,
      Map<String, String> env)
      throws Exception {
    ComposeFiles.Model m = files.model(deployment, releaseDir, spec, env);
    files.writeOverride(deployment, commit, releaseDir, spec, m, env);
    exits.clear(deployment);
    exits.oneShots(deployment, m.oneShots());
    files.run(
        deployment, releaseDir, spec, env, List.of("up", "-d", "--remove-orphans"), UP_TIMEOUT);
    LOG.info(
        "{}: compose project {} up with {} at {}",
        deployment,
        project(deployment, spec),
        m.services(),
        io.vtrack.agent.model.Commits.short7(commit));
  }

  @Override
  public void restart(
      String deployment,
      String commit,
      Path releaseDir,
      RuntimeSpec spec,
      List<String> services,
      Path logsDir,
      Map<String, String> env)
      throws Exception {
    ComposeFiles.Model m = files.model(deployment, releaseDir, spec, env);
    files.writeOverride(deployment, commit, releaseDir, spec, m, env);
    List<String> named = services.isEmpty() ? m.services() : services;
    exits.clear(deployment, named);
    // Without --force-recreate: `up` starts again the containers that are down (with their
    // volumes) and creates the missing ones; a replica of a scaled service that still runs keeps
    // serving (a forced recreate stopped it too).
    List<String> args = new ArrayList<>(List.of("up", "-d", "--no-deps"));
    args.addAll(named);
    files.run(deployment, releaseDir, spec, env, args, UP_TIMEOUT);
  }

  @Override
  public String stopAll(String deployment, RuntimeSpec spec) {
    return stopAll(deployment, spec, true);
  }

  /**
   * Keeps the containers, stopped, when {@code next} runs the same project again: its {@code up}
   * recreates them with their anonymous volumes (an image's VOLUME, a {@code - /data} entry), as
   * {@code docker-compose up} does on an upgrade; removed, each rollout started those empty and
   * left the old ones dangling. Anything else removes them: a stopped container of a service with
   * {@code restart: always} would start again when the engine does (a reboot).
   */
  @Override
  public String stopForReplacement(String deployment, RuntimeSpec spec, RuntimeSpec next) {
    boolean same =
        spec != null
            && next != null
            && next.type() == RuntimeSpec.RuntimeType.compose
            && project(deployment, next).equals(project(deployment, spec));
    return stopAll(deployment, spec, !same);
  }

  private String stopAll(String deployment, RuntimeSpec spec, boolean remove) {
    Map<String, Container> all = new LinkedHashMap<>();
    engine.containers(deployment).forEach(c -> all.put(c.getId(), c));
    if (spec != null) {
      docker
          .listContainersCmd()
          .withShowAll(true)
          .withLabelFilter(Map.of(LABEL_PROJECT, project(deployment, spec)))
          .exec()
          .forEach(c -> all.put(c.getId(), c));
    }
    String said = stops.all(deployment, all.values(), remove);
    exits.clear(deployment);
    return said;
  }

  @Override
  public Map<String, ServiceState> observe(String deployment) {
    Map<String, ServiceState> out = new TreeMap<>();
    for (Container c : engine.containers(deployment)) {
      String svc = c.getLabels().get(LABEL_SERVICE);
      if (svc == null) {
        continue;
      }
      boolean running = "running".equals(c.getState());
      ServiceState prev = out.get(svc);
      if (prev != null && !prev.alive()) {
        continue; // one dead replica makes the service dead
      }
      out.put(svc, new ServiceState(svc, c.getLabels().get(LABEL_COMMIT), 0, running, null));
    }
    return out;
  }

  @Override
  public List<String> unexpectedExits(String deployment) {
    return exits.of(deployment);
  }

  /** Removes the per-commit images of pruned releases (an image a container still uses stays). */
  @Override
  public void pruned(String deployment, RuntimeSpec spec, List<String> commits) {
    files.forget(commits);
    images.pruned(deployment, spec, commits);
  }

  /**
   * The state and Docker health of each container of a deployment, for the containers check: a
   * container not running, or {@code unhealthy}, fails the round.
   */
  public List<EngineContainers.ContainerState> containerStates(String deployment) {
    return engine.containerStates(deployment);
  }

  /** Resident memory of a service's containers: every process in them, read from /proc. */
  @Override
  public long residentBytes(String deployment, String service) {
    return engine.residentBytes(deployment, service);
  }

  @Override
  public String lastOutput(String deployment, String service, Path logsDir) {
    return engine.lastOutput(deployment, service);
  }

  @Override
  public LogSource serviceLog(String deployment, String service) {
    return new ContainerLogSource(engine, deployment, service);
  }

  /** Hands on an engine event about a container of a deployment (see {@link ContainerExits}). */
  public void onEvent(Event e) {
    exits.onEvent(e);
  }

  static String shortId(String id) {
    return id == null ? "?" : id.substring(0, Math.min(12, id.length()));
  }
}
