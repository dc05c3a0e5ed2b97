package io.vtrack.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.fail;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.model.Container;
import com.github.dockerjava.api.model.Event;
import com.github.dockerjava.core.DefaultDockerClientConfig;
import com.github.dockerjava.core.DockerClientImpl;
import com.github.dockerjava.zerodep.ZerodepDockerHttpClient;
import io.vtrack.agent.model.RuntimeSpec;
import io.vtrack.agent.runtime.CommandRunner;
import io.vtrack.agent.runtime.ComposeCli;
import io.vtrack.agent.runtime.ComposeRuntime;
import io.vtrack.agent.runtime.LogSource;
import io.vtrack.agent.store.StateStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.parallel.ResourceLock;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Compose deployments of the example app on the real Docker Engine (scripts/docker-setup.sh starts
 * one): images built from each release and tagged per commit, containers on host networking bound
 * to 127.0.0.1, observed through docker-java. With CI=true these tests may not skip.
 */
@ResourceLock(DockerDaemon.ENGINE)
@Order(1) // the longest: started first, so the other classes run beside it
class ComposeIT extends AgentTestBase {
  static DockerClient docker;
  String project;
  long eventStreamsBefore;

  @BeforeAll
  static void engine() {
    var config = DefaultDockerClientConfig.createDefaultConfigBuilder().build();
    docker =
        DockerClientImpl.getInstance(
            config,
            new ZerodepDockerHttpClient.Builder()
                .dockerHost(config.getDockerHost())
                .responseTimeout(Duration.ofMinutes(2))
                .build());
    try {
      docker.pingCmd().exec();
    } catch (RuntimeException e) {
      if ("true".equals(System.getenv("CI"))) {
        fail("CI=true but no Docker Engine answers (scripts/docker-setup.sh starts one): " + e);
      }
      Assumptions.abort("no Docker Engine: " + e.getMessage());
    }
  }

  /** The example app as a compose project, on this test's ports, at tag {@code c1}. */
  @BeforeEach
  void composeApp() throws Exception {
    project = "vtit-" + UUID.randomUUID().toString().substring(0, 8).toLowerCase(Locale.ROOT);
    app.asCompose(project);
    eventStreamsBefore = eventStreams();
  }

  @AfterEach
  void removeContainers() throws Exception {
    if (agent != null) {
      agent.close(); // first, so that it does not heal what is removed here
      // Nothing of the agent follows the engine's events after its stop.
      await()
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(100))
          .until(() -> eventStreams() <= eventStreamsBefore);
    }
    if (project == null) {
      return;
    }
    for (String p : List.of(project, project + "-blue", project + "-green")) {
      for (Container c :
          docker
              .listContainersCmd()
              .withShowAll(true)
              .withLabelFilter(Map.of(ComposeRuntime.LABEL_PROJECT, p))
              .exec()) {
        // With its anonymous volumes.
        docker.removeContainerCmd(c.getId()).withForce(true).withRemoveVolumes(true).exec();
      }
    }
    // The images built for its commits and the ones it pulled from a local registry.
    for (var image : docker.listImagesCmd().exec()) {
      for (String tag : image.getRepoTags() == null ? new String[0] : image.getRepoTags()) {
        if (tag.startsWith("vtrack/" + project + "-") || tag.contains("/" + project + "-")) {
          docker.removeImageCmd(tag).withForce(true).exec();
        }
      }
    }
    // Volumes a test's compose files declared (named after its project).
    var volumes = docker.listVolumesCmd().exec().getVolumes();
    for (var v :
        volumes == null
            ? List.<com.github.dockerjava.api.command.InspectVolumeResponse>of()
            : volumes) {
      if (v.getName().startsWith(project)) {
        docker.removeVolumeCmd(v.getName()).exec();
      }
    }
  }

  /** The threads docker-java reads event streams on (one per subscription). */
  static long eventStreams() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.isAlive() && t.getName().startsWith("docker-java-stream"))
        .count();
  }

  List<Container> projectContainers(boolean all) {
    return docker
        .listContainersCmd()
        .withShowAll(all)
        .withLabelFilter(Map.of(ComposeRuntime.LABEL_PROJECT, project))
        .exec();
  }

  Container container(String service) {
    return projectContainers(false).stream()
        .filter(c -> service.equals(c.getLabels().get(ComposeRuntime.LABEL_SERVICE)))
        .findFirst()
        .orElse(null);
  }

  /** The commits of the running containers, by service. */
  Map<String, String> runningCommits() {
    Map<String, String> out = new java.util.TreeMap<>();
    for (Container c : projectContainers(false)) {
      out.put(
          c.getLabels().get(ComposeRuntime.LABEL_SERVICE),
          c.getLabels().get(ComposeRuntime.LABEL_COMMIT));
    }
    return out;
  }

  long rows(String table) throws Exception {
    Path db = agent.stateDir.resolve("deployments/vtrack/shared/backend/database/events.db");
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db);
        ResultSet rs = c.createStatement().executeQuery("SELECT COUNT(*) FROM " + table)) {
      return rs.getLong(1);
    }
  }

  @Test
  void firstDeployAndAGoodUpgradeRunImagesBuiltPerCommit() throws Exception {
    String c1 = deployHealthy("c1");
    assertThat(runningCommits()).containsOnly(Map.entry("backend", c1), Map.entry("frontend", c1));
    assertThat(container("backend").getImage())
        .isEqualTo(ComposeRuntime.imageFor(project, "backend", c1));
    assertThat(runningVersion()).isEqualTo("1.0.0");
    // The data is in the deployment's shared/ folder, bind-mounted into the container.
    assertThat(rows("video_sources")).isGreaterThan(0);
    Map<String, Object> st = status();
    assertThat(st.get("checks").toString()).contains("containers");

    String c2 = app.goodUpgrade("1.1.0", "c2");
    app.deploy("c2");
    awaitPhase("Healthy", c2);
    assertThat(runningCommits()).containsOnly(Map.entry("backend", c2), Map.entry("frontend", c2));
    assertThat(runningVersion()).isEqualTo("1.1.0");
    // The old commit's image stays for a rollback; the new one is its own.
    assertThat(docker.inspectImageCmd(ComposeRuntime.imageFor(project, "backend", c1)).exec())
        .isNotNull();
    assertThat(container("backend").getImage())
        .isEqualTo(ComposeRuntime.imageFor(project, "backend", c2));

    // With releases.keep 2, the release of c1 goes when c3 is verified, and its images with it.
    app.extraSpec = "  releases: {keep: 2}";
    String c3 = app.goodUpgrade("1.2.0", "c3");
    app.deploy("c3");
    awaitPhase("Healthy", c3);
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(200))
        .until(
            () ->
                docker
                    .listImagesCmd()
                    .withReferenceFilter(ComposeRuntime.imageFor(project, "backend", c1))
                    .exec()
                    .isEmpty());
    assertThat(
            docker
                .listImagesCmd()
                .withReferenceFilter(ComposeRuntime.imageFor(project, "backend", c2))
                .exec())
        .isNotEmpty();
  }

  @Test
  void aContainerThatExitsAtStartupIsRolledBackToTheOldImages() throws Exception {
    String c1 = deployHealthy("c1");
    String before = container("backend").getId();
    String bad = app.crashAtStartup("c2");
    app.deploy("c2");
    awaitPhase("RolledBack", c1);
    Map<String, Object> st = status();
    assertThat((List<Object>) st.get("quarantinedCommits")).containsExactly(bad);
    Map<?, ?> last = (Map<?, ?>) st.get("lastRollout");
    assertThat(last.get("reason")).isEqualTo("ServiceExited");
    assertThat(runningCommits()).containsOnly(Map.entry("backend", c1), Map.entry("frontend", c1));
    assertThat(container("backend").getId()).isNotEqualTo(before);
    assertThat(container("backend").getImage())
        .isEqualTo(ComposeRuntime.imageFor(project, "backend", c1));
    assertThat(runningVersion()).isEqualTo("1.0.0");
    // The failure names the container's last output, read from the engine.
    List<Map<String, Object>> history = agent.api.history("vtrack");
    assertThat(history.get(0).toString()).contains("boom: missing setting");
  }

  @Test
  void aDockerHealthcheckTurningUnhealthyIsRolledBack() throws Exception {
    app.timings = "startupTimeout: 20s\n    interval: 500ms\n    window: 12s";
    String c1 = deployHealthy("c1");
    // Every endpoint still answers; only the container's own healthcheck fails.
    app.edit(
        "docker-compose.yml",
        s ->
            s.replace(
                "    healthcheck:\n      test: [\"CMD\", \"python3\", \"-c\",",
                "    healthcheck:\n      test: [\"CMD\", \"false\", \"-c\","));
    String bad = app.commitApp("A healthcheck that fails", "c2");
    app.deploy("c2");
    awaitPhase("RolledBack", c1);
    Map<?, ?> last = (Map<?, ?>) status().get("lastRollout");
    // Unhealthy before the first passing round is a wrong answer; after it, a failed window.
    assertThat(last.get("reason")).isIn("WindowFailed", "ChecksFailed");
    assertThat(String.valueOf(last.get("message"))).contains("unhealthy");
    assertThat((List<Object>) status().get("quarantinedCommits")).containsExactly(bad);
    assertThat(runningCommits()).containsOnly(Map.entry("backend", c1), Map.entry("frontend", c1));
  }

  @Test
  void aBrokenApiContractIsRolledBack() throws Exception {
    String c1 = deployHealthy("c1");
    app.breakContract("c2");
    app.deploy("c2");
    awaitPhase("RolledBack", c1);
    Map<?, ?> last = (Map<?, ?>) status().get("lastRollout");
    assertThat(last.get("reason")).isEqualTo("ChecksFailed");
    assertThat(String.valueOf(last.get("message"))).contains("sources");
    assertThat(runningCommits()).containsOnly(Map.entry("backend", c1), Map.entry("frontend", c1));
  }

  /** Waits until {@code bad} is quarantined by a failed Preparing; its rollout's record. */
  Map<?, ?> awaitRefusedInPreparing(String bad) {
    await()
        .atMost(LONG)
        .untilAsserted(
            () ->
                assertThat((List<Object>) status().getOrDefault("quarantinedCommits", List.of()))
                    .contains(bad));
    Map<?, ?> last = (Map<?, ?>) status().get("lastRollout");
    assertThat(last.get("result")).isEqualTo("Failed");
    assertThat(last.get("reason")).isEqualTo("PrepareFailed");
    return last;
  }

  @Test
  void anImageThatDoesNotBuildIsRefusedBeforeAnythingStops() throws Exception {
    String c1 = deployHealthy("c1");
    String before = container("backend").getId();
    app.edit("Dockerfile", s -> s + "RUN python3 -c 'import vtrack_no_such_module'\n");
    String bad = app.commitApp("A Dockerfile step that fails", "c2");
    app.deploy("c2");
    Map<?, ?> last = awaitRefusedInPreparing(bad);
    // The message names the command that failed and ends with what the build said.
    assertThat(String.valueOf(last.get("message")))
        .contains("build failed (exit code")
        .contains("No module named 'vtrack_no_such_module'")
        .doesNotContain("\u001B");
    // No container of the failed step is left behind.
    assertThat(docker.listContainersCmd().withShowAll(true).exec())
        .noneMatch(c -> String.valueOf(c.getCommand()).contains("vtrack_no_such_module"));
    // Nothing that ran was touched.
    assertThat(container("backend").getId()).isEqualTo(before);
    assertThat(runningCommits()).containsOnly(Map.entry("backend", c1), Map.entry("frontend", c1));
    assertThat(runningVersion()).isEqualTo("1.0.0");
  }

  /**
   * A rollback asked for while an image builds stops the build (the compose CLI and what it
   * started): a slow build is not waited out, and nothing of it keeps running.
   */
  @Test
  @SuppressWarnings("unchecked")
  void aRollbackDuringTheImageBuildStopsIt() throws Exception {
    String c1 = deployHealthy("c1");
    String before = container("backend").getId();
    app.edit("Dockerfile", s -> s + "RUN echo vtrack-slow-build && sleep 600\n");
    String slow = app.commitApp("A Dockerfile step that takes ten minutes", "c2");
    app.deploy("c2");
    await()
        .atMost(LONG)
        .until(
            () ->
                docker.listContainersCmd().exec().stream()
                    .anyMatch(c -> String.valueOf(c.getCommand()).contains("vtrack-slow-build")));
    Api.Answer a = agent.api.postAuthed("/api/v1/deployments/vtrack/rollback", "");
    assertThat(a.status()).as(a.body()).isEqualTo(202);
    assertThat(a.json().get("message").toString()).contains("stopped in Preparing");
    awaitPhase("RolledBack", c1);
    Map<String, Object> last = agent.api.history("vtrack").get(0);
    assertThat(last.get("result")).isEqualTo("Failed");
    assertThat(last.get("reason")).isEqualTo("ManualRollback");
    assertThat(last.get("message").toString()).contains("rolled back by").contains("the build");
    assertThat((List<Object>) status().get("quarantinedCommits")).containsExactly(slow);
    // The build's step stops with its client; nothing that ran was touched.
    await()
        .atMost(LONG)
        .until(
            () ->
                docker.listContainersCmd().exec().stream()
                    .noneMatch(c -> String.valueOf(c.getCommand()).contains("vtrack-slow-build")));
    assertThat(container("backend").getId()).isEqualTo(before);
    assertThat(runningCommits()).containsOnly(Map.entry("backend", c1), Map.entry("frontend", c1));
  }

  /** A service on {@code image}, added to the compose file. */
  void addCacheService(String image) throws Exception {
    app.edit(
        "docker-compose.yml",
        s ->
            s.replaceAll("\n  cache:\n(    .*\n)+", "\n")
                + "  cache:\n    image: "
                + image
                + "\n    command: [sleep, \"3600\"]\n    network_mode: host\n");
  }

  /**
   * c1 Healthy, then c2 adds a service on {@code image}, whose registry is not running (its port
   * refuses, as a registry that is down does): the rollout retries Preparing, c2 not blamed and
   * nothing that runs touched. Returns c2.
   */
  String c2RetryingForAnAbsentRegistry(String image) throws Exception {
    return c2RetryingForAnAbsentRegistry(image, () -> addCacheService(image));
  }

  /** As above, with c2 made by {@code change}. */
  String c2RetryingForAnAbsentRegistry(String image, Change change) throws Exception {
    return c2Retrying(change, "image registry unreachable", image, "connection refused");
  }

  /**
   * Deploys c1, then c2 made by {@code change}, and waits until c2's rollout retries in Preparing
   * with {@code SourceUnavailable} saying each of {@code said}; checks that nothing of c1 was
   * touched and c2 is not quarantined. Returns c2.
   */
  String c2Retrying(Change change, String... said) throws Exception {
    String c1 = deployHealthy("c1");
    String before = container("backend").getId();
    change.make();
    String commit = app.commitApp("A change that needs the network", "c2");
    app.deploy("c2");
    awaitRetryingInPreparing(commit, said);
    assertThat(container("backend").getId()).isEqualTo(before);
    assertThat(runningCommits()).containsOnly(Map.entry("backend", c1), Map.entry("frontend", c1));
    return commit;
  }

  @Test
  void anImageWhoseRegistryIsAwayIsRetriedNotBlamedAndOneTheRegistryDoesNotHaveIsRefused()
      throws Exception {
    try (LocalRegistry registry = new LocalRegistry(tmp.resolve("registry"))) {
      String image = registry.image(project + "-cache", "1");
      String c2 = c2RetryingForAnAbsentRegistry(image);

      // The registry is back with the image: the same rollout goes on and pulls it.
      registry.start();
      registry.pushTiny(image);
      assertThat(agent.api.postAuthed("/api/v1/deployments/vtrack/reconcile", "").status())
          .isLessThan(300);
      awaitPhase("Healthy", c2);
      assertThat(runningCommits())
          .containsOnly(
              Map.entry("backend", c2), Map.entry("frontend", c2), Map.entry("cache", c2));
      assertThat(container("cache").getImage()).isEqualTo(image);

      // A registry that answers that it has no such image: the commit's fault, refused.
      String missing = registry.image(project + "-missing", "1");
      addCacheService(missing);
      String bad = app.commitApp("An image no registry has", "c3");
      app.deploy("c3");
      Map<?, ?> last = awaitRefusedInPreparing(bad);
      assertThat(String.valueOf(last.get("message")))
          .contains("pull failed (exit code")
          .contains(missing)
          .contains("manifest unknown");
      assertThat(runningCommits())
          .containsOnly(
              Map.entry("backend", c2), Map.entry("frontend", c2), Map.entry("cache", c2));
    }
  }

  /** A change to the app's files. */
  @FunctionalInterface
  interface Change {
    void make() throws Exception;
  }

  @Test
  void aBaseImageWhoseRegistryIsAwayIsRetriedNotBlamed() throws Exception {
    String base = "127.0.0.1:" + TestApp.freePort() + "/" + project + "-base:1";
    String c2 =
        c2RetryingForAnAbsentRegistry(
            base,
            () ->
                app.edit(
                    "Dockerfile", s -> s.replace("FROM vtrack/runtime:bookworm", "FROM " + base)));
    // The base image back as it was: the rollout retrying c2 gives way, c3 rolls out.
    app.edit("Dockerfile", s -> s.replace("FROM " + base, "FROM vtrack/runtime:bookworm"));
    String c3 = app.commitApp("The base image back", "c3");
    app.deploy("c3");
    awaitPhase("Healthy", c3);
    assertThat((List<Object>) status().getOrDefault("quarantinedCommits", List.of()))
        .doesNotContain(c2);
  }

  /**
   * An image build whose RUN step fetches from a server that is away (nothing listens on its port):
   * the network, not the commit. Retried in Preparing, nothing running touched; once the server
   * answers, the same rollout builds and goes on.
   */
  @Test
  void aBuildStepThatCannotReachTheNetworkIsRetriedNotBlamed() throws Exception {
    int port = TestApp.freePort();
    String url = "http://127.0.0.1:" + port + "/deps.txt";
    String c2 =
        c2Retrying(
            () ->
                app.edit(
                    "Dockerfile",
                    s ->
                        s
                            + "RUN python3 -c \"import urllib.request;"
                            + " urllib.request.urlopen('"
                            + url
                            + "', timeout=10).read()\"\n"),
            "a build step could not reach the network",
            "[Errno 111] Connection refused");
    try (FileServer server = new FileServer(port, Map.of("/deps.txt", "ok\n"))) {
      assertThat(agent.api.postAuthed("/api/v1/deployments/vtrack/reconcile", "").status())
          .isLessThan(300);
      awaitPhase("Healthy", c2);
      assertThat(runningCommits())
          .containsOnly(Map.entry("backend", c2), Map.entry("frontend", c2));
    }
  }

  @Test
  void aRolloutRetryingForAnAbsentRegistryGivesWayToTheNextCommitAndALocalImageIsNotPulled()
      throws Exception {
    try (LocalRegistry registry = new LocalRegistry(tmp.resolve("registry"))) {
      String image = registry.image(project + "-cache", "1");
      String c2 = c2RetryingForAnAbsentRegistry(image);
      Map<?, ?> retrying = (Map<?, ?>) status().get("lastRollout");

      // The fix: an image this host has and no registry serves, used as it is, never pulled. The
      // rollout retrying c2 gives way to it at once, without blaming c2.
      addCacheService("vtrack/runtime:bookworm");
      String c3 = app.commitApp("A cache service on the runtime image", "c3");
      app.deploy("c3");
      awaitPhase("Healthy", c3);
      assertThat(runningCommits())
          .containsOnly(
              Map.entry("backend", c3), Map.entry("frontend", c3), Map.entry("cache", c3));
      Map<String, Object> given =
          agent.api.history("vtrack").stream()
              .filter(r -> retrying.get("id").equals(r.get("id")))
              .findFirst()
              .orElseThrow();
      assertThat(given.get("result")).isEqualTo("Failed");
      assertThat(given.get("reason")).isEqualTo("SourceUnavailable");
      assertThat(String.valueOf(given.get("message")))
          .contains("given up for commit " + c3.substring(0, 7))
          .contains(image);
      assertThat((List<Object>) status().getOrDefault("quarantinedCommits", List.of()))
          .doesNotContain(c2);
    }
  }

  @Test
  void aServiceInTheHostsPidNamespaceIsLeftRunningWhenTheAgentStartsAgain() throws Exception {
    // Its process is visible to the agent's startup scan, with VTRACK_STATE_DIR in its
    // environment, like one the agent started and never recorded; it is the engine's.
    app.edit(
        "docker-compose.yml",
        s ->
            s
                + "  sidecar:\n    image: vtrack/runtime:bookworm\n    command: [sleep, \"3600\"]\n"
                + "    network_mode: host\n    pid: host\n");
    app.commitApp("A sidecar in the host's pid namespace", "c2");
    String c2 = deployHealthy("c2");
    String sidecar = container("sidecar").getId();
    var before = docker.inspectContainerCmd(sidecar).exec().getState();
    assertThat(before.getPidLong()).isPositive();

    agent.close();
    start("300ms");
    awaitPhase("Healthy", c2);
    var after = docker.inspectContainerCmd(sidecar).exec().getState();
    assertThat(after.getRunning()).isTrue();
    assertThat(after.getPidLong()).isEqualTo(before.getPidLong());
    assertThat(after.getStartedAt()).isEqualTo(before.getStartedAt());
    assertThat(ProcessHandle.of(before.getPidLong())).isPresent();
  }

  @Test
  void aServiceInAProfileThatIsNotActiveIsNeitherStartedNorAwaited() throws Exception {
    app.edit(
        "docker-compose.yml",
        s ->
            s
                + "  debug:\n    image: vtrack/vtit-not-pulled-unless-active:1\n"
                + "    profiles: [debug]\n    network_mode: host\n");
    app.commitApp("A debug service in a profile", "c2");
    String c2 = deployHealthy("c2");
    assertThat(runningCommits()).containsOnly(Map.entry("backend", c2), Map.entry("frontend", c2));
    assertThat(status().get("checks").toString()).doesNotContain("debug");
  }

  /** A migrate service the backend waits for to complete, running {@code script}. */
  void addMigration(String script) throws Exception {
    String waits =
        "\n  backend:\n    depends_on:\n"
            + "      migrate: {condition: service_completed_successfully}\n";
    app.edit(
        "docker-compose.yml",
        s ->
            (s.contains(waits) ? s : s.replace("\n  backend:\n", waits))
                    .replaceAll("\n  migrate:\n(    .*\n)+", "\n")
                + "  migrate:\n    image: vtrack/runtime:bookworm\n    network_mode: host\n"
                + "    command: [sh, -c, \""
                + script
                + "\"]\n");
  }

  @Test
  void aMigrationServiceThatCompletesIsNotAnExitAndOneThatFailsIsRolledBack() throws Exception {
    addMigration("echo migrated");
    app.commitApp("A migration the backend waits for", "c2");
    String c2 = deployHealthy("c2");
    assertThat(runningCommits()).containsOnly(Map.entry("backend", c2), Map.entry("frontend", c2));
    // The window went by without the migration's exit counting against it; a new commit too.
    String c3 = app.goodUpgrade("1.1.0", "c3");
    app.deploy("c3");
    awaitPhase("Healthy", c3);

    addMigration("echo cannot migrate; exit 3");
    String bad = app.commitApp("A migration that fails", "c4");
    app.deploy("c4");
    awaitPhase("RolledBack", c3);
    assertThat((List<Object>) status().get("quarantinedCommits")).contains(bad);
    assertThat(runningCommits()).containsOnly(Map.entry("backend", c3), Map.entry("frontend", c3));
  }

  @Test
  void theDataIsRestoredAfterAFailedRollout() throws Exception {
    String c1 = deployHealthy("c1");
    long before = rows("video_sources");
    assertThat(before).isGreaterThan(1);
    app.deleteRowsInMigration("c2");
    app.deploy("c2");
    awaitPhase("RolledBack", c1);
    Map<?, ?> last = (Map<?, ?>) status().get("lastRollout");
    assertThat(String.valueOf(last.get("message"))).contains("sources-kept");
    assertThat(rows("video_sources")).isEqualTo(before);
    Path failed =
        agent.stateDir.resolve(
            "deployments/vtrack/backups/" + last.get("id") + "/failed/backend/database/events.db");
    assertThat(failed).exists();
    assertThat(runningCommits()).containsOnly(Map.entry("backend", c1), Map.entry("frontend", c1));
  }

  @Test
  void aContainerKilledByHandIsStartedAgainAndContainersOfOtherProjectsAreLeftAlone()
      throws Exception {
    // A container of another compose project, which the agent must never touch.
    String other =
        docker
            .createContainerCmd("vtrack/runtime:bookworm")
            .withCmd("sleep", "600")
            .withLabels(Map.of(ComposeRuntime.LABEL_PROJECT, project + "-other"))
            .withHostConfig(
                com.github.dockerjava.api.model.HostConfig.newHostConfig().withNetworkMode("host"))
            .exec()
            .getId();
    try {
      docker.startContainerCmd(other).exec();
      String c1 = deployHealthy("c1");
      String killed = container("backend").getId();
      String startedAt = startedAt(killed);
      docker.killContainerCmd(killed).exec();
      // The same container, started again (with whatever its volumes hold).
      await()
          .atMost(LONG)
          .pollInterval(Duration.ofMillis(200))
          .until(
              () -> {
                Container c = container("backend");
                return c != null
                    && c.getId().equals(killed)
                    && !startedAt(killed).equals(startedAt)
                    && "1.0.0".equals(runningVersion());
              });
      awaitPhase("Healthy", c1);

      // Removed by hand: put back as well.
      String removed = container("frontend").getId();
      docker.removeContainerCmd(removed).withForce(true).exec();
      await()
          .atMost(LONG)
          .pollInterval(Duration.ofMillis(200))
          .until(
              () ->
                  container("frontend") != null && !container("frontend").getId().equals(removed));
      awaitPhase("Healthy", c1);
      assertThat(runningCommits())
          .containsOnly(Map.entry("backend", c1), Map.entry("frontend", c1));
      assertThat(agent.api.get("/api/v1/deployments/vtrack/history").status()).isEqualTo(200);
      assertThat(docker.inspectContainerCmd(other).exec().getState().getRunning()).isTrue();
    } finally {
      docker.removeContainerCmd(other).withForce(true).exec();
    }
  }

  /**
   * A copy of the document for a dev build that keeps the compose project: the engine keeps one
   * project's containers under its name, so the copy would replace production's. It is Stalled
   * naming the project and the deployment running it, and no container changes.
   */
  @Test
  void aSecondDocumentNamingARunningProjectIsRefusedAndTouchesNoContainer() throws Exception {
    String c1 = deployHealthy("c1");
    List<String> before = projectContainers(true).stream().map(Container::getId).sorted().toList();
    app.commitDocument(
        "vtrack-dev.yaml",
        app.document("vtrack-dev", "c1", TestApp.freePort(), TestApp.freePort(), app.extraSpec));
    awaitStalled(
        "vtrack-dev",
        "spec.runtime.compose.project: the compose project "
            + project
            + " belongs to deployment 'vtrack', which runs it");
    assertThat(projectContainers(true).stream().map(Container::getId).sorted().toList())
        .isEqualTo(before);
    awaitPhase("Healthy", c1);
    assertThat(runningVersion()).isEqualTo("1.0.0");
  }

  /** The running containers of {@code service}, by id, with their commits. */
  Map<String, String> replicas(String service) {
    Map<String, String> out = new java.util.TreeMap<>();
    for (Container c : projectContainers(false)) {
      if (service.equals(c.getLabels().get(ComposeRuntime.LABEL_SERVICE))) {
        out.put(c.getId(), c.getLabels().get(ComposeRuntime.LABEL_COMMIT));
      }
    }
    return out;
  }

  /**
   * A service's anonymous volume (`- /data`, or an image's VOLUME: postgres's, redis's) keeps what
   * it held across an upgrade, as with `docker-compose up`: the new commit's container is created
   * from the stopped one and gets its volumes. Removing the containers at the stop gave each
   * rollout an empty one (the old left dangling). A stop with no `up` after it removes them.
   */
  @Test
  void anAnonymousVolumeKeepsWhatItHeldAcrossAnUpgrade() throws Exception {
    app.edit(
        "docker-compose.yml",
        s ->
            s
                + "  keeper:\n    image: vtrack/runtime:bookworm\n"
                + "    command: [sh, -c, \"echo started >> /data/starts; exec sleep 3600\"]\n"
                + "    volumes: [/data]\n    network_mode: host\n    stop_grace_period: 1s\n"
                + "    restart: always\n");
    app.commitApp("A keeper with an anonymous volume", "k1");
    deployHealthy("k1");
    String first = container("keeper").getId();
    String c2 = app.goodUpgrade("2.0.0", "c2");
    app.deploy("c2");
    awaitPhase("Healthy", c2);
    String second = container("keeper").getId();
    assertThat(second).isNotEqualTo(first);
    var exec =
        docker.execCreateCmd(second).withCmd("cat", "/data/starts").withAttachStdout(true).exec();
    var out = new java.io.ByteArrayOutputStream();
    docker
        .execStartCmd(exec.getId())
        .exec(
            new com.github.dockerjava.api.async.ResultCallback.Adapter<
                com.github.dockerjava.api.model.Frame>() {
              @Override
              public void onNext(com.github.dockerjava.api.model.Frame f) {
                out.writeBytes(f.getPayload());
              }
            })
        .awaitCompletion(30, java.util.concurrent.TimeUnit.SECONDS);
    assertThat(out.toString()).isEqualTo("started\nstarted\n");

    // The document removed (deletionPolicy Stop): the containers are removed, not left stopped
    // (a stopped `restart: always` container would start again with the engine).
    List<String> volumes =
        docker.inspectContainerCmd(second).exec().getMounts().stream()
            .filter(mnt -> mnt.getName() != null)
            .map(mnt -> mnt.getName())
            .toList();
    assertThat(volumes).hasSize(1);
    app.removeDocument();
    await()
        .atMost(LONG)
        .pollInterval(Duration.ofMillis(200))
        .until(() -> projectContainers(true).isEmpty());
    // What the volume held stays on the disk (data is never deleted); the test removes it.
    docker.removeVolumeCmd(volumes.get(0)).exec();
  }

  @Test
  @SuppressWarnings("unchecked")
  void aServiceScaledToTwoContainersIsDeployedHealedAndUpgradedAsOne() throws Exception {
    // A queue worker with no port, two replicas (compose file 2.4 `scale`).
    app.edit(
        "docker-compose.yml",
        s ->
            s
                + "  worker:\n    image: vtrack/runtime:bookworm\n    command: [sleep, \"3600\"]\n"
                + "    network_mode: host\n    scale: 2\n    stop_grace_period: 1s\n"
                // One that needs 11 s after TERM to finish its job, and is given 30.
                + "  finisher:\n    image: vtrack/runtime:bookworm\n"
                + "    command: [sh, -c, \"trap 'sleep 11; exit 0' TERM; while :; do sleep 1; done\"]\n"
                + "    network_mode: host\n    stop_grace_period: 30s\n");
    app.commitApp("A worker, twice", "w1");
    String c1 = deployHealthy("w1");
    assertThat(replicas("worker")).hasSize(2).containsValues(c1).doesNotContainValue(null);

    // One replica killed: the service is not all there; that container is started again (with
    // its volumes), the other left running.
    List<String> before = List.copyOf(replicas("worker").keySet());
    String otherStarted = startedAt(before.get(1));
    String killedStarted = startedAt(before.get(0));
    docker.killContainerCmd(before.get(0)).exec();
    await()
        .atMost(LONG)
        .pollInterval(Duration.ofMillis(200))
        .until(
            () ->
                replicas("worker").keySet().containsAll(before)
                    && !startedAt(before.get(0)).equals(killedStarted));
    awaitPhase("Healthy", c1);
    assertThat(replicas("worker").keySet()).containsExactlyInAnyOrderElementsOf(before);
    assertThat(startedAt(before.get(1)))
        .as("the replica that kept running was not restarted")
        .isEqualTo(otherStarted);

    // An upgrade replaces both replicas with the new commit's, and no container of c1 is left.
    List<String> atUpgrade = new ArrayList<>(replicas("worker").keySet());
    String finisher = container("finisher").getId();
    atUpgrade.add(finisher);
    java.time.Instant upgradeAt = java.time.Instant.now();
    long since = upgradeAt.getEpochSecond() - 1;
    String c2 = app.goodUpgrade("2.0.0", "c2");
    app.deploy("c2");
    awaitPhase("Healthy", c2);
    assertThat(replicas("worker")).hasSize(2).doesNotContainKeys(before.toArray(String[]::new));
    assertThat(replicas("worker").values()).containsOnly(c2);
    assertThat(projectContainers(true))
        .allSatisfy(c -> assertThat(c.getLabels().get(ComposeRuntime.LABEL_COMMIT)).isEqualTo(c2));
    // `sleep` as PID 1 ignores TERM: the engine killed each replica after its 1 s, and the
    // rollout's stop step says so.
    assertThat((List<Map<String, Object>>) agent.api.history(app.name).get(0).get("steps"))
        .anySatisfy(
            s -> {
              assertThat(s.get("name")).isEqualTo("stop");
              assertThat(s.get("output").toString())
                  .contains("worker still ran after its stop timeout (stop_grace_period): killed")
                  .doesNotContain("finisher");
            });
    // Both replicas were stopped together: each got its TERM before either died (one after the
    // other, the second's TERM came after the first's KILL, a grace period later).
    long fromNanos = upgradeAt.getEpochSecond() * 1_000_000_000L + upgradeAt.getNano();
    List<Event> seen =
        events(atUpgrade, since).stream()
            .filter(e -> e.getTimeNano() != null && e.getTimeNano() >= fromNanos)
            .toList();
    int lastTerm = -1;
    int firstDie = Integer.MAX_VALUE;
    for (int i = 0; i < seen.size(); i++) {
      Event e = seen.get(i);
      Map<String, String> attrs = e.getActor() == null ? Map.of() : e.getActor().getAttributes();
      if ("kill".equals(e.getAction()) && "15".equals(attrs.get("signal"))) {
        lastTerm = i;
      } else if ("die".equals(e.getAction())) {
        firstDie = Math.min(firstDie, i);
      }
    }
    List<String> actions =
        seen.stream()
            .map(
                e ->
                    shortId(e.getId())
                        + " "
                        + e.getAction()
                        + " "
                        + (e.getActor() == null ? "" : e.getActor().getAttributes().get("signal")))
            .toList();
    assertThat(seen.stream().filter(e -> "die".equals(e.getAction()))).hasSize(3);
    assertThat(lastTerm).as("events: %s", actions).isGreaterThanOrEqualTo(0).isLessThan(firstDie);
    // The finisher was given its stop_grace_period, 30 s, and finished: not killed at 10 s.
    assertThat(seen)
        .filteredOn(e -> "die".equals(e.getAction()) && finisher.equals(e.getId()))
        .singleElement()
        .satisfies(e -> assertThat(e.getActor().getAttributes()).containsEntry("exitCode", "0"));
  }

  private String startedAt(String container) {
    return docker.inspectContainerCmd(container).exec().getState().getStartedAt();
  }

  private static String shortId(String id) {
    return id == null ? "?" : id.substring(0, Math.min(12, id.length()));
  }

  /** The engine's events about these containers from {@code since} (epoch seconds), in order. */
  private List<Event> events(List<String> ids, long since) throws InterruptedException {
    List<Event> out = new java.util.concurrent.CopyOnWriteArrayList<>();
    docker
        .eventsCmd()
        .withContainerFilter(ids.toArray(String[]::new))
        .withSince(String.valueOf(since))
        .withUntil(String.valueOf(java.time.Instant.now().getEpochSecond() + 1))
        .exec(
            new com.github.dockerjava.api.async.ResultCallback.Adapter<Event>() {
              @Override
              public void onNext(Event e) {
                out.add(e);
              }
            })
        .awaitCompletion(30, java.util.concurrent.TimeUnit.SECONDS);
    // The engine may hand an event over twice (replayed from its buffer, then live, when the
    // window reaches the present): each event once.
    Map<String, Event> once = new java.util.LinkedHashMap<>();
    for (Event e : out) {
      once.putIfAbsent(e.getId() + " " + e.getAction() + " " + e.getTimeNano(), e);
    }
    return List.copyOf(once.values());
  }

  @Test
  void aComposeFileWithASyntaxErrorStallsAndTouchesNothing() throws Exception {
    String c1 = deployHealthy("c1");
    String backend = container("backend").getId();
    app.edit("docker-compose.yml", s -> s.replace("services:\n", "services: [\n"));
    app.commitApp("Broken compose file", "c2");
    app.deploy("c2");
    awaitPhase("Stalled", c1);
    Map<String, Object> st = status();
    assertThat(st.toString()).contains("InvalidSpec").contains("config rejected the compose files");
    assertThat(container("backend").getId()).isEqualTo(backend);
    assertThat(runningCommits()).containsOnly(Map.entry("backend", c1), Map.entry("frontend", c1));
    assertThat(runningVersion()).isEqualTo("1.0.0");
  }

  @Test
  void aBranchMovingPastACommitWhoseComposeFileIsBrokenRollsOutTheFix() throws Exception {
    String c1 = deployHealthy("main");
    app.edit("docker-compose.yml", s -> s.replace("services:\n", "services: [\n"));
    app.commitApp("Broken compose file", "c2");
    awaitPhase("Stalled", c1);
    assertThat(status().toString()).contains("config rejected the compose files");
    // The fix is the next commit on the branch; the document does not change.
    app.edit("docker-compose.yml", s -> s.replace("services: [\n", "services:\n"));
    String c3 = app.commitApp("Fixed compose file", "c3");
    awaitPhase("Healthy", c3);
    assertThat(runningCommits()).containsOnly(Map.entry("backend", c3), Map.entry("frontend", c3));
  }

  @Test
  @SuppressWarnings("unchecked")
  void logAndMemoryChecksReadTheContainersThroughTheEngine() throws Exception {
    app.extraChecks =
        """
              - name: no-errors
                log: {service: backend, pattern: "ERROR", max: 0}
              - name: memory
                memory: {service: backend, max: 1Gi}
        """;
    String c1 = deployHealthy("c1");
    List<Map<String, Object>> checks = (List<Map<String, Object>>) status().get("checks");
    assertThat(checks)
        .anySatisfy(
            c -> {
              assertThat(c.get("name")).isEqualTo("memory");
              assertThat(c.get("status")).isEqualTo("Passing");
              assertThat(String.valueOf(c.get("message"))).matches("resident [1-9]\\d*Mi");
            });
    // A revision that logs an ERROR line to its output: only the container's log shows it.
    app.edit(
        "backend/app.py",
        s ->
            s.replace(
                "    migrate()\n", "    migrate()\n    log.error(\"ERROR cannot load plugin\")\n"));
    app.commitApp("Logs an error", "c2");
    app.deploy("c2");
    awaitPhase("RolledBack", c1);
    Map<?, ?> last = (Map<?, ?>) status().get("lastRollout");
    assertThat(String.valueOf(last.get("message")))
        .contains("no-errors")
        .contains("ERROR cannot load plugin");
  }

  /**
   * DESIGN §2: a log count over max fails verification at once. A container's output is followed
   * through the engine's log stream, so an error it writes between rounds 30 s apart is caught when
   * written, not at the next round.
   */
  @Test
  @SuppressWarnings("unchecked")
  void anErrorAContainerLogsBetweenRoundsFailsAtOnce() throws Exception {
    app.extraChecks =
        """
              - name: no-errors
                log: {service: backend, pattern: "db write failed", max: 0}
        """;
    String c1 = deployHealthy("c1");
    String bad = app.logsErrorAfter(3, "c2");
    app.timings = "startupTimeout: 60s\n    interval: 30s\n    window: 60s";
    app.deploy("c2");
    awaitPhase("RolledBack", c1);
    Map<?, ?> last = (Map<?, ?>) status().get("lastRollout");
    assertThat(last.get("reason")).as("rollout %s", last).isEqualTo("WindowFailed");
    assertThat(String.valueOf(last.get("message"))).contains("no-errors", "db write failed");
    assertThat((List<Object>) status().get("quarantinedCommits")).containsExactly(bad);
    List<Map<String, Object>> steps =
        (List<Map<String, Object>>) agent.api.history(app.name).get(0).get("steps");
    Map<String, Object> verify =
        steps.stream().filter(s -> "verify".equals(s.get("name"))).findFirst().orElseThrow();
    // Round 1 passed; round 2 ran when the line was written (30 s later without the stream).
    assertThat(((Number) verify.get("durationMs")).longValue()).isLessThan(25_000);
    assertThat(verify.get("output").toString()).contains("2 rounds");
  }

  /**
   * A container that floods its output (12 MB in about a second) is read in pieces of at most the
   * reader's limit, each line at most once, up to its last line; a log check never holds it all.
   */
  @Test
  void aFloodedContainerOutputIsReadInPiecesAndNoLineTwice() throws Exception {
    String id =
        docker
            .createContainerCmd("vtrack/runtime:bookworm")
            .withCmd(
                "sh",
                "-c",
                "seq 1 300000 | sed 's/$/ of the flood, padded to make a long line/'; echo END")
            .withLabels(
                Map.of(
                    ComposeRuntime.LABEL_PROJECT, project,
                    ComposeRuntime.LABEL_DEPLOYMENT, project,
                    ComposeRuntime.LABEL_SERVICE, "flood"))
            .withHostConfig(
                com.github.dockerjava.api.model.HostConfig.newHostConfig().withNetworkMode("host"))
            .exec()
            .getId();
    docker.startContainerCmd(id).exec();
    await()
        .atMost(LONG)
        .pollInterval(Duration.ofMillis(100))
        .until(() -> !docker.inspectContainerCmd(id).exec().getState().getRunning());
    LogSource output =
        new ComposeRuntime(docker, ComposeCli.v2(), (d, s) -> {}).serviceLog(project, "flood");
    java.util.BitSet seen = new java.util.BitSet();
    long mark = 0;
    boolean end = false;
    int chunks = 0;
    while (!end && chunks++ < 100) {
      LogSource.Chunk chunk = output.readAfter(mark);
      assertThat(chunk.text().length()).isLessThanOrEqualTo(8 << 20);
      mark = chunk.nextMark();
      for (String line : chunk.text().split("\n")) {
        if (line.equals("END")) {
          end = true;
        } else if (!line.isEmpty()) {
          int n = Integer.parseInt(line.substring(0, line.indexOf(' ')));
          assertThat(seen.get(n)).as("line %d read twice", n).isFalse();
          seen.set(n);
        }
      }
    }
    System.out.println("flooded output: " + seen.cardinality() + " lines in " + chunks + " reads");
    assertThat(end).as("the last line was read").isTrue();
    assertThat(chunks).as("read in more than one piece").isGreaterThan(1);
    assertThat(seen.cardinality()).as("every line read").isEqualTo(300_000);
  }

  @Test
  void theAgentRidesOutADaemonRestart() throws Exception {
    String c1 = deployHealthy("c1");
    String before = container("backend").getId();
    DockerDaemon.restart(docker);
    // The engine stopped the containers; the agent reconnects to its events, sees them dead and
    // brings the same commit back.
    await()
        .atMost(LONG)
        .pollInterval(Duration.ofMillis(200))
        .until(
            () -> {
              Container c = container("backend");
              return c != null
                  && c1.equals(c.getLabels().get(ComposeRuntime.LABEL_COMMIT))
                  && "1.0.0".equals(runningVersion());
            });
    awaitPhase("Healthy", c1);
    assertThat(runningCommits()).containsOnly(Map.entry("backend", c1), Map.entry("frontend", c1));
    assertThat(agent.api.history("vtrack")).hasSize(1);
    assertThat(before).isNotNull();
  }

  /**
   * The agent killed (as its own upgrade or the OOM killer would) and started again while a compose
   * project runs: it adopts the containers and never stops them. The services get VTRACK_STATE_DIR,
   * and the startup scan for processes started from the state folder took the containers' for
   * unrecorded ones of its own and sent them TERM.
   */
  @Test
  void anAgentRestartLeavesTheRunningContainersAlone() throws Exception {
    try (AgentProcess proc =
        new AgentProcess(tmp.resolve("agent-process"), app.deployUrl(), "300ms")) {
      String c1 = c1Healthy(proc);
      Map<String, String> before = containerStarts();
      assertThat(before).hasSize(2);
      proc.kill();
      proc.start();
      proc.awaitState("Healthy", c1);
      assertThat(containerStarts()).as(proc.log()).isEqualTo(before);
      assertThat(proc.log()).doesNotContain("never recorded");
    }
  }

  /** Each container of the project: whether it runs, and since when. */
  private Map<String, String> containerStarts() {
    Map<String, String> out = new java.util.TreeMap<>();
    for (Container c : projectContainers(true)) {
      var state = docker.inspectContainerCmd(c.getId()).exec().getState();
      out.put(c.getId(), state.getRunning() + " since " + state.getStartedAt());
    }
    return out;
  }

  /**
   * Power loss with compose: the agent halted at a point of a rollout and every container of the
   * project killed with it (the host's containers go with its power), then only the agent started
   * again. It makes the engine match the store and finishes: a good commit ends Healthy on its own
   * images, a bad one rolled back to the old commit's images, and only those run.
   */
  @ParameterizedTest(name = "compose, power lost at {0}")
  @CsvSource({
    "stage.Deploying, good",
    "stage.RollingBack, bad",
  })
  void aRolloutCutByAPowerLossFinishesCorrectly(String crashAt, String revision) throws Exception {
    boolean good = revision.equals("good");
    try (AgentProcess proc =
        new AgentProcess(tmp.resolve("agent-process"), app.deployUrl(), "300ms")) {
      String expected = powerLostDuringARolloutToC2(proc, crashAt, good);
      assertThat(runningCommits())
          .containsOnly(Map.entry("backend", expected), Map.entry("frontend", expected));
      assertThat(container("backend").getImage())
          .isEqualTo(ComposeRuntime.imageFor(project, "backend", expected));
      await()
          .atMost(LONG)
          .untilAsserted(() -> assertThat(runningVersion()).isEqualTo(good ? "2.0.0" : "1.0.0"));
      assertThat(proc.api().history("vtrack").get(0).get("result"))
          .isEqualTo(good ? "Succeeded" : "RolledBack");
    }
  }

  /**
   * The same with blue-green: the power takes both colours' containers and the switch proxy; only
   * the agent starts again. The release the store says is live comes back behind the proxy and the
   * rollout finishes: a good commit switched to and Healthy, a bad one rolled back, and the public
   * address serves it.
   */
  @ParameterizedTest(name = "compose blue-green, power lost at {0}")
  @CsvSource({"switched.mid, good"})
  void aBlueGreenRolloutCutByAPowerLossFinishesCorrectly(String crashAt, String revision)
      throws Exception {
    boolean good = revision.equals("good");
    composeBlueGreen();
    try (AgentProcess proc =
        new AgentProcess(tmp.resolve("agent-process"), app.deployUrl(), "300ms")) {
      powerLostDuringARolloutToC2(proc, crashAt, good);
      PowerLossIT.publicAddressesServe(app, good ? "2.0.0" : "1.0.0");
      assertThat(proc.api().history("vtrack").get(0).get("result"))
          .isEqualTo(good ? "Succeeded" : "RolledBack");
    }
  }

  /**
   * Power lost while all is well (no rollout): the agent, the proxy and every container gone; the
   * agent started again restarts the live release and is Healthy again (it healed once, then its
   * checks pass), and the public address serves. It stayed Degraded, healing again and again, when
   * its checks never ran after the start.
   */
  @Test
  void aHealthyBlueGreenDeploymentComesBackAfterAPowerLoss() throws Exception {
    composeBlueGreen();
    try (AgentProcess proc =
        new AgentProcess(tmp.resolve("agent-process"), app.deployUrl(), "300ms")) {
      String c1 = c1Healthy(proc);
      proc.kill();
      powerOff(proc);
      proc.start();
      await()
          .atMost(LONG)
          .pollInterval(Duration.ofMillis(50))
          .until(() -> "Degraded".equals(proc.api().status("vtrack").get("phase")));
      proc.awaitState("Healthy", c1);
      PowerLossIT.publicAddressesServe(app, "1.0.0");
    }
  }

  /**
   * c1 Healthy, then c2 (a good upgrade to 2.0.0 or a broken contract) deployed to an agent that
   * halts at {@code crashAt}, every container of the project (both colours) and the switch proxy
   * killed with it as a power cut takes them; then only the agent started again. Returns the commit
   * it ends on once it has: c2 Healthy, or c1 RolledBack with c2 quarantined.
   */
  @SuppressWarnings("unchecked")
  private String powerLostDuringARolloutToC2(AgentProcess proc, String crashAt, boolean good)
      throws Exception {
    String c1 = c1Healthy(proc);
    String c2 = good ? app.goodUpgrade("2.0.0", "c2") : app.breakContract("c2");
    String expected = good ? c2 : c1;
    proc.kill();
    app.deploy("c2");
    proc.startNoWait(Map.of("VTRACK_CRASH_AT", crashAt));
    assertThat(proc.awaitExit(Duration.ofSeconds(180))).as(proc.log()).isEqualTo(137);
    powerOff(proc);
    proc.start();
    proc.awaitState(good ? "Healthy" : "RolledBack", expected);
    Map<String, Object> st = proc.api().status("vtrack");
    assertThat((List<Object>) st.getOrDefault("quarantinedCommits", List.of()))
        .as("status %s\n%s", st, proc.log())
        .isEqualTo(good ? List.of() : List.of(c2));
    return expected;
  }

  /**
   * An engine with live-restore (what Docker advises for upgrading it) keeps the containers running
   * while it is away: the app serves, only the checks that ask the engine cannot run, and that is
   * nobody's failure - neither Degraded nor restarted, while it is away or once it is back.
   */
  @Test
  @SuppressWarnings("unchecked")
  void theEngineAwayWhileItsContainersServeIsNotHeldAgainstThem() throws Exception {
    app.extraChecks =
        """
              - name: memory
                memory: {service: backend, max: 1Gi}
        """;
    DockerDaemon.stop();
    DockerDaemon.start(docker, "--live-restore");
    try {
      String c1 = deployHealthy("c1");
      List<String> ids = containerIds();
      DockerDaemon.stop();
      await()
          .atMost(LONG)
          .until(() -> String.valueOf(status().get("checks")).contains("Docker Engine"));
      assertThat(runningVersion()).isEqualTo("1.0.0");
      // Rounds every 200 ms, two failing ones make it Degraded: ten times that.
      await()
          .during(Duration.ofSeconds(4))
          .atMost(Duration.ofSeconds(30))
          .until(() -> "Healthy".equals(status().get("phase")));
      DockerDaemon.start(docker, "--live-restore");
      await()
          .atMost(LONG)
          .untilAsserted(
              () ->
                  assertThat((List<Map<String, Object>>) status().get("checks"))
                      .allSatisfy(c -> assertThat(c.get("status")).isEqualTo("Passing")));
      awaitPhase("Healthy", c1);
      assertThat(containerIds()).isEqualTo(ids);
      try (StateStore s = StateStore.open(agent.stateDir)) {
        assertThat(s.events().of(app.name, 1000))
            .noneMatch(e -> "SelfHeal".equals(e.get("type")) || "Degraded".equals(e.get("type")));
      }
    } finally {
      if (Files.exists(Path.of("/var/run/docker.pid"))) {
        DockerDaemon.stop();
      }
      DockerDaemon.start(docker);
    }
  }

  /** The ids of the project's containers, sorted. */
  private List<String> containerIds() {
    return docker
        .listContainersCmd()
        .withLabelFilter(Map.of(ComposeRuntime.LABEL_PROJECT, project))
        .exec()
        .stream()
        .map(Container::getId)
        .sorted()
        .toList();
  }

  @Test
  @SuppressWarnings("unchecked")
  void theEngineAwayDuringTheSwitchIsNotTheCommitsFault() throws Exception {
    // A validate step that lasts long enough to take the engine away before the switch.
    app.validate =
        """
          validate:
            - {name: slow, command: [sh, -c, "sleep 4"], timeout: 30s}
        """;
    String c1 = deployHealthy("c1");
    String c2 = app.goodUpgrade("2.0.0", "c2");
    app.deploy("c2");
    await().atMost(LONG).until(() -> "Validating".equals(status().get("phase")));
    DockerDaemon.stop();
    try {
      // The switch cannot happen: the rollout waits, saying why, and blames nobody.
      await()
          .atMost(LONG)
          .untilAsserted(
              () ->
                  assertThat(String.valueOf(status().get("conditions")))
                      .contains("Docker Engine")
                      .doesNotContain("Quarantined"));
      assertThat((List<Object>) status().getOrDefault("quarantinedCommits", List.of())).isEmpty();
    } finally {
      DockerDaemon.start(docker);
    }
    awaitPhase("Healthy", c2);
    assertThat((List<Object>) status().getOrDefault("quarantinedCommits", List.of())).isEmpty();
    assertThat(runningCommits()).containsOnly(Map.entry("backend", c2), Map.entry("frontend", c2));
    assertThat(agent.api.history("vtrack").get(0).get("result")).isEqualTo("Succeeded");
    assertThat(c1).isNotNull();
  }

  /** c1 deployed by {@code proc}, started, and Healthy; returns c1's commit. */
  private String c1Healthy(AgentProcess proc) throws Exception {
    String c1 = commitOf("c1");
    app.deploy("c1");
    proc.start();
    proc.awaitState("Healthy", c1);
    return c1;
  }

  /**
   * The rest of a power cut, after the agent: the switch proxy and every container of the project
   * (both colours) killed, until the engine lists none.
   */
  private void powerOff(AgentProcess proc) throws Exception {
    InProcessAgent.killApp(proc.stateDir);
    List<String> projects = List.of(project, project + "-blue", project + "-green");
    for (String p : projects) {
      for (Container c :
          docker
              .listContainersCmd()
              .withLabelFilter(Map.of(ComposeRuntime.LABEL_PROJECT, p))
              .exec()) {
        try {
          docker.killContainerCmd(c.getId()).exec();
        } catch (RuntimeException e) {
          // It stopped meanwhile: gone all the same.
        }
      }
    }
    await()
        .atMost(LONG)
        .until(
            () ->
                projects.stream()
                    .allMatch(
                        p ->
                            docker
                                .listContainersCmd()
                                .withLabelFilter(Map.of(ComposeRuntime.LABEL_PROJECT, p))
                                .exec()
                                .isEmpty()));
  }

  /**
   * Blue-green for the compose project: one project per colour, every service on its own loopback
   * port (VTRACK_PORT_BACKEND, VTRACK_PORT_FRONTEND), the proxy owning the test's public ports.
   */
  void composeBlueGreen() {
    app.runtime =
        """
            type: compose
            sharedPaths: [backend/database/, backend/logs/]
            compose: {files: [docker-compose.yml], project: %s}
            services:
              - {name: backend, expose: {listen: "127.0.0.1:%%1$d"}}
              - {name: frontend, expose: {listen: "127.0.0.1:%%2$d"}}
        """
            .formatted(project);
    app.extraSpec = "  strategy:\n    blueGreen: {keepWarm: 10m, drainTimeout: 5s}\n";
    app.instanceChecks = true;
    app.timings = "startupTimeout: 30s\n    interval: 300ms\n    window: 1500ms";
  }

  List<Container> colourContainers(String colour) {
    return docker
        .listContainersCmd()
        .withLabelFilter(Map.of(ComposeRuntime.LABEL_PROJECT, project + "-" + colour))
        .exec();
  }

  @SuppressWarnings("unchecked")
  String liveColour() {
    return ((List<Map<String, Object>>) status().get("instances"))
        .stream()
            .filter(i -> "Live".equals(i.get("role")))
            .map(i -> (String) i.get("colour"))
            .findFirst()
            .orElseThrow();
  }

  @Test
  void aFixedContainerNameIsRefusedWithBlueGreenBeforeAnythingRunsBesideTheLiveOne()
      throws Exception {
    composeBlueGreen();
    String c1 = deployHealthy("c1");
    String blue = liveColour();
    List<String> live = colourContainers(blue).stream().map(Container::getId).toList();
    String fixed = project + "-the-backend";
    app.edit(
        "docker-compose.yml",
        s ->
            s.replace("\n  backend:\n", "\n  backend:\n    container_name: " + fixed + "\n")
                + "  cache:\n    image: vtrack/runtime:bookworm\n    command: [sleep, \"3600\"]\n"
                + "    network_mode: host\n    volumes: [cachedata:/data]\n"
                + "volumes:\n  cachedata:\n");
    app.commitApp("A fixed container name and a volume of the project", "c2");
    app.deploy("c2");
    // The second colour could never be created beside the first, and would get its own empty
    // copy of the volume: said at once, by name.
    awaitPhase("Stalled", c1);
    assertThat(String.valueOf(status().get("message")))
        .contains("spec.strategy.blueGreen")
        .contains("backend the container_name " + fixed)
        .contains("the volume cachedata");
    assertThat(colourContainers(blue).stream().map(Container::getId).toList())
        .containsExactlyInAnyOrderElementsOf(live);
    assertThat(colourContainers(blue.equals("blue") ? "green" : "blue")).isEmpty();
    assertThat(docker.listContainersCmd().withShowAll(true).exec())
        .noneMatch(c -> List.of(c.getNames()).contains("/" + fixed));

    // Without the name, and with a volume both colours share (a name of its own): rolled out.
    app.edit(
        "docker-compose.yml",
        s ->
            s.replace("    container_name: " + fixed + "\n", "")
                .replace("  cachedata:\n", "  cachedata:\n    name: " + project + "-cachedata\n"));
    String c3 = app.commitApp("No fixed container name, a volume of the host", "c3");
    app.deploy("c3");
    awaitPhase("Healthy", c3);
    assertThat(liveColour()).isNotEqualTo(blue);
  }

  @Test
  void aBlueGreenComposeUpgradeSwitchesWithNoFailedRequestAndKeepsTheOldProjectWarm()
      throws Exception {
    composeBlueGreen();
    String c1 = deployHealthy("c1");
    String blue = liveColour();
    assertThat(colourContainers(blue)).hasSize(2);
    try (PollingClient user =
        new PollingClient("http://127.0.0.1:" + app.frontendPort + "/api/config/get-sources")) {
      await().atMost(LONG).until(() -> user.ok.get() > 10);
      String c2 = app.goodUpgrade("2.0.0", "c2");
      app.deploy("c2");
      awaitPhase("Healthy", c2);
      await().atMost(LONG).until(() -> "2.0.0".equals(runningVersion()));
      int after = user.ok.get();
      await().atMost(LONG).until(() -> user.ok.get() > after + 10);
      user.close();
      System.out.println("compose blue-green upgrade under load: " + user);
      assertThat(user.failures).as("failed requests during the upgrade").isEmpty();
      String green = liveColour();
      assertThat(green).isNotEqualTo(blue);
      // The new project runs the new commit's image; the old one stays up, warm.
      assertThat(colourContainers(green))
          .allSatisfy(
              c -> assertThat(c.getLabels().get(ComposeRuntime.LABEL_COMMIT)).isEqualTo(c2));
      assertThat(colourContainers(blue))
          .hasSize(2)
          .allSatisfy(
              c -> assertThat(c.getLabels().get(ComposeRuntime.LABEL_COMMIT)).isEqualTo(c1));
      assertThat(
              colourContainers(green).stream()
                  .filter(c -> "backend".equals(c.getLabels().get(ComposeRuntime.LABEL_SERVICE)))
                  .findFirst()
                  .orElseThrow()
                  .getImage())
          .isEqualTo(ComposeRuntime.imageFor(project, "backend", c2));
    }
  }

  /**
   * A compose project moving from recreate to blue-green, a user polling throughout: the project
   * recreate started holds the public ports until the proxy takes them, then it is gone and a
   * colour's project serves. The short gap between its stop and the proxy's bind is reported.
   */
  @Test
  @SuppressWarnings("unchecked")
  void aProjectMovingFromRecreateToBlueGreenEndsServedByAColour() throws Exception {
    String c1 = deployHealthy("c1");
    assertThat(projectContainers(false)).hasSize(2);
    try (PollingClient user =
        new PollingClient("http://127.0.0.1:" + app.frontendPort + "/api/config/get-sources")) {
      await().atMost(LONG).until(() -> user.ok.get() > 10);
      composeBlueGreen();
      app.deploy("c1");
      awaitRollouts(2);
      awaitPhase("Healthy", c1);
      int after = user.ok.get();
      await().atMost(LONG).until(() -> user.ok.get() > after + 10);
      user.close();
      System.out.println("compose recreate -> blue-green under load: " + user);
    }
    assertThat(agent.api.history("vtrack").get(0).get("steps").toString())
        .contains("the release started with recreate was stopped first");
    assertThat(projectContainers(true)).isEmpty();
    assertThat(colourContainers(liveColour()))
        .hasSize(2)
        .allSatisfy(c -> assertThat(c.getLabels().get(ComposeRuntime.LABEL_COMMIT)).isEqualTo(c1));
    assertThat(((Map<String, Object>) status().get("proxy")).get("healthy")).isEqualTo(true);
    assertThat(runningVersion()).isEqualTo("1.0.0");
  }

  @Test
  @SuppressWarnings("unchecked")
  void aCrashingComposeRevisionIsNeverServedAndTheLiveProjectIsUntouched() throws Exception {
    composeBlueGreen();
    String c1 = deployHealthy("c1");
    String live = liveColour();
    List<String> liveIds = colourContainers(live).stream().map(Container::getId).sorted().toList();
    try (PollingClient user =
        new PollingClient("http://127.0.0.1:" + app.frontendPort + "/api/config/get-sources")) {
      await().atMost(LONG).until(() -> user.ok.get() > 10);
      String bad = app.crashAtStartup("c2");
      app.deploy("c2");
      awaitPhase("RolledBack", c1);
      user.close();
      System.out.println("compose blue-green crash at startup under load: " + user);
      assertThat(user.failures).as("failed requests while c2 was tried").isEmpty();
      assertThat((List<Object>) status().get("quarantinedCommits")).containsExactly(bad);
    }
    assertThat(liveColour()).isEqualTo(live);
    assertThat(colourContainers(live).stream().map(Container::getId).sorted().toList())
        .isEqualTo(liveIds);
    assertThat(colourContainers(live.equals("blue") ? "green" : "blue")).isEmpty();
    assertThat(runningVersion()).isEqualTo("1.0.0");
  }

  @ParameterizedTest(name = "compose v{0}")
  @ValueSource(ints = {1, 2})
  void theComposeCliBuildsStartsObservesAndStops(int version) throws Exception {
    ComposeCli cli = version == 1 ? ComposeCli.v1() : ComposeCli.v2();
    if (!cli.available()) {
      if (version == 1 && "true".equals(System.getenv("CI"))) {
        fail("CI=true but docker-compose (v1) is not installed");
      }
      Assumptions.abort(cli.describe() + " is not installed here");
    }
    ComposeRuntime rt = new ComposeRuntime(docker, cli, (d, s) -> {});
    String commit = commitOf("c1");
    Path shared = tmp.resolve("cli-shared");
    Files.createDirectories(shared.resolve("backend/database"));
    Files.createDirectories(shared.resolve("backend/logs"));
    var spec =
        new RuntimeSpec(
            RuntimeSpec.RuntimeType.compose,
            List.of("backend/database/", "backend/logs/"),
            List.of(),
            new RuntimeSpec.ComposeSpec(List.of("docker-compose.yml"), project));
    Map<String, String> env = Map.of("VTRACK_COMMIT", commit, "VTRACK_SHARED", shared.toString());
    assertThat(rt.services("cli", spec, app.appDir)).containsExactly("backend", "frontend");
    assertThat(rt.build("cli", commit, app.appDir, spec, env, new CommandRunner.Stopper()))
        .contains("built");
    rt.start("cli", commit, app.appDir, spec, tmp.resolve("logs"), env);
    await()
        .atMost(LONG)
        .pollInterval(Duration.ofMillis(200))
        .until(() -> "1.0.0".equals(runningVersion()));
    assertThat(rt.observe("cli")).containsOnlyKeys("backend", "frontend");
    assertThat(rt.observe("cli").get("backend").alive()).isTrue();
    assertThat(rt.residentBytes("cli", "backend")).isGreaterThan(1 << 20);
    assertThat(rt.lastOutput("cli", "backend", tmp)).contains("listening on 127.0.0.1");
    assertThat(shared.resolve("backend/database/events.db")).exists();
    rt.stopAll("cli", spec);
    assertThat(projectContainers(true)).isEmpty();
    assertThat(rt.unexpectedExits("cli")).isEmpty();
  }
}
