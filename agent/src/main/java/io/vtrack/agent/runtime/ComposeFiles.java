package io.vtrack.agent.runtime;

import io.vtrack.agent.model.RuntimeSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import tools.jackson.databind.JsonNode;
import tools.jackson.dataformat.yaml.YAMLMapper;

/**
 * A release's compose files as the compose CLI reads them ({@code compose config}, cached per
 * release), and the override the agent writes beside them: per-commit image tags for the services
 * built from the release (so a rollback runs the old commit's images, never the new ones), the
 * deployment and commit labels and the VTRACK_* environment on every service. Blocking.
 */
final class ComposeFiles {
  /** The generated override, written into the release next to the compose files. */
  static final String OVERRIDE_FILE = ".vtrack-compose.override.yml";

  private static final YAMLMapper YAML = new YAMLMapper();
  private static final Duration CONFIG_TIMEOUT = Duration.ofMinutes(1);

  private final ComposeCli cli;
  private final Map<Path, Model> models = new ConcurrentHashMap<>();

  ComposeFiles(ComposeCli cli) {
    this.cli = cli;
  }

  /** Reads a release afresh at its next use. */
  void forget(Path releaseDir) {
    models.remove(releaseDir);
  }

  /** Forgets the releases of pruned commits. */
  void forget(List<String> commits) {
    models.keySet().removeIf(release -> commits.contains(release.getFileName().toString()));
  }

  /**
   * What {@code compose config} says of a release: its file version, its services, the image each
   * service that does not build runs, the fixed container names ({@code container_name}), the named
   * volumes that belong to the project ({@link #projectVolumes}) and the services that run once and
   * exit ({@link #oneShots}).
   */
  record Model(
      String version,
      Map<String, Boolean> buildsByService,
      Map<String, String> pulledImages,
      Map<String, String> containerNames,
      List<String> projectVolumes,
      Set<String> oneShots) {
    /** The services that keep running (every one {@code up} starts but the one-shots). */
    List<String> services() {
      return buildsByService.keySet().stream().filter(s -> !oneShots.contains(s)).toList();
    }
  }

  /** The release's compose files, as the document names them (default docker-compose.yml). */
  static List<Path> files(Path releaseDir, RuntimeSpec spec) {
    List<String> names =
        spec.compose() == null ? List.of("docker-compose.yml") : spec.compose().files();
    return names.stream().map(f -> releaseDir.resolve(f).normalize()).toList();
  }

  /**
   * Reads the release's compose files through {@code compose config}: a file the CLI rejects (a
   * syntax error, an unknown key) throws {@link ComposeConfigException} with the CLI's message.
   */
  Model model(String deployment, Path releaseDir, RuntimeSpec spec, Map<String, String> env)
      throws ComposeConfigException {
    Model cached = models.get(releaseDir);
    if (cached != null) {
      return cached;
    }
    List<Path> files = files(releaseDir, spec);
    for (Path f : files) {
      if (!Files.isRegularFile(f)) {
        throw new ComposeConfigException(
            "spec.runtime.compose.files: " + releaseDir.relativize(f) + " is not in the release");
      }
    }
    JsonNode root = config(deployment, releaseDir, spec, env);
    Map<String, Boolean> builds = new TreeMap<>();
    Map<String, String> pulled = new TreeMap<>();
    Map<String, String> named = new TreeMap<>();
    JsonNode services = root.path("services");
    Set<String> profiles = activeProfiles(env, releaseDir);
    for (var e : services.properties()) {
      if (!runs(e.getValue(), profiles)) {
        // `up` does not start it: neither built, pulled nor expected to run.
        continue;
      }
      builds.put(e.getKey(), e.getValue().has("build"));
      if (!e.getValue().has("build") && e.getValue().path("image").isString()) {
        pulled.put(e.getKey(), e.getValue().path("image").asString());
      }
      if (e.getValue().path("container_name").isString()) {
        named.put(e.getKey(), e.getValue().path("container_name").asString());
      }
    }
    if (builds.isEmpty()) {
      throw new ComposeConfigException("the compose files define no services");
    }
    JsonNode v = root.get("version");
    Model m =
        new Model(
            v == null || v.isNull() ? null : v.asString(),
            builds,
            pulled,
            named,
            projectVolumes(root, ComposeRuntime.project(deployment, spec)),
            oneShots(services, builds.keySet()));
    models.put(releaseDir, m);
    return m;
  }

  /**
   * The services among {@code running} that another waits for to complete ({@code depends_on:
   * {name: {condition: service_completed_successfully}}}): a migration or a seed, meant to exit 0.
   */
  static Set<String> oneShots(JsonNode services, Set<String> running) {
    Set<String> out = new TreeSet<>();
    for (var s : services.properties()) {
      if (!running.contains(s.getKey())) {
        continue;
      }
      for (var dep : s.getValue().path("depends_on").properties()) {
        if ("service_completed_successfully".equals(dep.getValue().path("condition").asString(""))
            && running.contains(dep.getKey())) {
          out.add(dep.getKey());
        }
      }
    }
    return out;
  }

  /**
   * Whether {@code up} starts a service of {@code compose config}'s output: one without {@code
   * profiles}, or with one of the active profiles ({@code config} lists every service, up starts
   * only these).
   */
  static boolean runs(JsonNode service, Set<String> activeProfiles) {
    JsonNode profiles = service.path("profiles");
    if (!profiles.isArray() || profiles.isEmpty()) {
      return true;
    }
    for (JsonNode p : profiles) {
      if (activeProfiles.contains(p.asString())) {
        return true;
      }
    }
    return false;
  }

  /**
   * The profiles compose activates, as it reads them: {@code COMPOSE_PROFILES} from the environment
   * the CLI gets ({@code env}, then the agent's own), else from the release's {@code .env} file.
   */
  static Set<String> activeProfiles(Map<String, String> env, Path releaseDir) {
    String value = env.get("COMPOSE_PROFILES");
    if (value == null) {
      value = System.getenv("COMPOSE_PROFILES");
    }
    if (value == null) {
      try {
        Path dotEnv = releaseDir.resolve(".env");
        if (Files.isRegularFile(dotEnv)) {
          for (String line : Files.readAllLines(dotEnv)) {
            if (line.strip().startsWith("COMPOSE_PROFILES=")) {
              value = line.strip().substring("COMPOSE_PROFILES=".length()).replace("\"", "");
            }
          }
        }
      } catch (IOException | RuntimeException e) {
        // An unreadable .env: compose itself will say so.
      }
    }
    Set<String> out = new HashSet<>();
    if (value != null) {
      for (String p : value.split(",")) {
        if (!p.isBlank()) {
          out.add(p.strip());
        }
      }
    }
    return out;
  }

  /**
   * The named volumes of {@code compose config}'s output that belong to the project: each project
   * (each colour) gets its own. Those that are {@code external} or have a {@code name:} of their
   * own are the host's, shared by every project; v1 prints no name for the others, v2 the project's
   * ({@code <project>_<volume>}).
   */
  static List<String> projectVolumes(JsonNode config, String project) {
    List<String> out = new ArrayList<>();
    for (var e : config.path("volumes").properties()) {
      JsonNode v = e.getValue();
      JsonNode external = v.path("external");
      boolean shared = external.asBoolean(false) || external.isObject();
      String name = v.path("name").asString("");
      if (!shared && (name.isEmpty() || name.equals(project + "_" + e.getKey()))) {
        out.add(e.getKey());
      }
    }
    return out;
  }

  /** The release's compose files as {@code compose config} resolves them with {@code env}. */
  private JsonNode config(
      String deployment, Path releaseDir, RuntimeSpec spec, Map<String, String> env)
      throws ComposeConfigException {
    CommandRunner.Result r =
        cli.run(
            ComposeRuntime.project(deployment, spec),
            releaseDir,
            files(releaseDir, spec),
            List.of("config"),
            env,
            CONFIG_TIMEOUT);
    if (!r.ok()) {
      throw new ComposeConfigException(
          cli.describe() + " config rejected the compose files: " + r.output().strip());
    }
    try {
      return YAML.readTree(r.output());
    } catch (RuntimeException e) {
      throw new ComposeConfigException(
          cli.describe() + " config printed what is not YAML: " + e.getMessage());
    }
  }

  /**
   * The host paths the release's services bind-mount, as {@code compose config} resolves them with
   * {@code env} (a preview checks that none of them is the live data).
   */
  public List<String> bindSources(
      String deployment, Path releaseDir, RuntimeSpec spec, Map<String, String> env)
      throws ComposeConfigException {
    List<String> out = new ArrayList<>();
    for (var svc : config(deployment, releaseDir, spec, env).path("services").properties()) {
      for (JsonNode v : svc.getValue().path("volumes")) {
        // v1 prints "source:target[:mode]", v2 {type, source, target}.
        String source =
            v.isString() ? v.asString().split(":", 2)[0] : v.path("source").asString("");
        if (source.startsWith("/") || source.startsWith(".")) {
          out.add(svc.getKey() + "=" + releaseDir.resolve(source).normalize());
        }
      }
    }
    return out;
  }

  /**
   * The override: per-commit image tags for built services, the deployment and commit labels and
   * the VTRACK_* environment on every service. Rewritten each time (it is derived, never edited).
   */
  Path writeOverride(
      String deployment,
      String commit,
      Path releaseDir,
      RuntimeSpec spec,
      Model model,
      Map<String, String> env)
      throws IOException {
    String project = ComposeRuntime.baseProject(deployment, spec);
    Map<String, Object> services = new LinkedHashMap<>();
    for (var e : model.buildsByService().entrySet()) {
      Map<String, Object> svc = new LinkedHashMap<>();
      if (e.getValue()) {
        svc.put("image", ComposeRuntime.imageFor(project, e.getKey(), commit));
      }
      svc.put(
          "labels",
          Map.of(ComposeRuntime.LABEL_DEPLOYMENT, deployment, ComposeRuntime.LABEL_COMMIT, commit));
      Map<String, String> environment = new TreeMap<>();
      env.forEach(
          (k, val) -> {
            if (k.startsWith("VTRACK_")) {
              environment.put(k, val);
            }
          });
      svc.put("environment", environment);
      services.put(e.getKey(), svc);
    }
    Map<String, Object> doc = new LinkedHashMap<>();
    if (model.version() != null) {
      doc.put("version", model.version());
    }
    doc.put("services", services);
    Path out = releaseDir.resolve(OVERRIDE_FILE);
    Files.writeString(
        out,
        "# Generated by vtrack-agent for "
            + deployment
            + " at "
            + commit
            + "; rewritten before every use.\n"
            + YAML.writeValueAsString(doc));
    return out;
  }

  List<Path> withOverride(Path releaseDir, RuntimeSpec spec) {
    List<Path> all = new ArrayList<>(files(releaseDir, spec));
    all.add(releaseDir.resolve(OVERRIDE_FILE));
    return all;
  }

  /** Runs the compose CLI on the release's project and files, with the agent's override. */
  CommandRunner.Result run(
      String deployment,
      Path releaseDir,
      RuntimeSpec spec,
      Map<String, String> env,
      List<String> args,
      Duration timeout)
      throws IOException {
    return run(deployment, releaseDir, spec, env, args, timeout, new CommandRunner.Stopper());
  }

  /**
   * As {@link #run(String, Path, RuntimeSpec, Map, List, Duration)}, stopped by {@code stopper}.
   */
  CommandRunner.Result run(
      String deployment,
      Path releaseDir,
      RuntimeSpec spec,
      Map<String, String> env,
      List<String> args,
      Duration timeout,
      CommandRunner.Stopper stopper)
      throws IOException {
    return cli.runOrFail(
        ComposeRuntime.project(deployment, spec),
        releaseDir,
        withOverride(releaseDir, spec),
        args,
        env,
        timeout,
        stopper);
  }
}
