package io.vtrack.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.ResourceLock;

/**
 * The agent image, built from the root Dockerfile on vtrack/agent-base (made without a registry by
 * packaging/image/agent-base-image.sh) and run as the DaemonSet runs it: host network, the node's
 * Docker socket, the state folder as a volume at the same path, a read-only root filesystem. It
 * deploys the compose example through the engine. With CI=true it may not skip.
 */
@ResourceLock(DockerDaemon.ENGINE)
class AgentImageIT {
  static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
  static final String IMAGE = "vtrack/agent:0.1.0";

  @TempDir Path tmp;
  String container;
  String project;

  static DebPackageIT.Run docker(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("docker"));
    cmd.addAll(List.of(args));
    return DebPackageIT.run(cmd.toArray(String[]::new));
  }

  @BeforeAll
  static void imageBuilds() throws Exception {
    boolean engine = Files.exists(Path.of("/var/run/docker.sock")) && docker("info").code() == 0;
    boolean base = engine && docker("image", "inspect", "vtrack/agent-base:bookworm").code() == 0;
    if (!engine || !base) {
      String why = "needs a Docker Engine and vtrack/agent-base:bookworm (scripts/docker-setup.sh)";
      if ("true".equals(System.getenv("CI"))) {
        fail("CI=true but " + why);
      }
      org.junit.jupiter.api.Assumptions.abort(why);
    }
    var build = docker("build", "-q", "-t", IMAGE, ROOT.toString());
    assertThat(build.code()).as(build.output()).isZero();
  }

  @AfterEach
  void remove() throws Exception {
    if (container != null) {
      docker("rm", "-f", container);
    }
    if (project == null) {
      return;
    }
    for (String p : List.of(project, project + "-blue", project + "-green")) {
      var ids = docker("ps", "-aq", "--filter", "label=com.docker.compose.project=" + p);
      for (String id : ids.output().split("\\s+")) {
        if (!id.isBlank()) {
          docker("rm", "-f", id);
        }
      }
    }
    // The images the agent in the container built for the example's commits.
    var images = docker("images", "-q", "--filter", "reference=vtrack/" + project + "-*");
    for (String id : images.output().split("\\s+")) {
      if (!id.isBlank()) {
        docker("rmi", "-f", id);
      }
    }
  }

  @Test
  void theImageRunsAsTheDaemonSetDoesAndDeploysTheComposeExample() throws Exception {
    project = "vtimg-" + UUID.randomUUID().toString().substring(0, 8).toLowerCase(Locale.ROOT);
    Path state = tmp.resolve("state");
    Path docs = tmp.resolve("docs");
    Files.createDirectories(state);
    Files.createDirectories(docs);
    try (TestApp app = new TestApp(tmp.resolve("repos"))) {
      String c1 = app.asCompose(project);
      Files.writeString(docs.resolve("vtrack.yaml"), app.document("c1"));
      int port = TestApp.freePort();
      Path config = tmp.resolve("agent.yaml");
      Files.writeString(
          config,
          """
          stateDir: %s
          listen: 127.0.0.1:%d
          sources:
            - file: {path: %s, interval: 500ms}
          """
              .formatted(state, port, docs));
      // As the DaemonSet runs it: host network, the node's socket, state at the same path.
      var run =
          docker(
              "run",
              "-d",
              "--network",
              "host",
              "--read-only",
              "--tmpfs",
              "/tmp",
              "-e",
              "VTRACK_AGENT_NAME=node-it",
              "-e",
              "DOCKER_HOST=unix:///var/run/docker.sock",
              "-v",
              "/var/run/docker.sock:/var/run/docker.sock",
              "-v",
              state + ":" + state,
              "-v",
              docs + ":" + docs + ":ro",
              "-v",
              app.appDir + ":" + app.appDir + ":ro",
              "-v",
              config + ":/etc/vtrack/agent.yaml:ro",
              IMAGE);
      assertThat(run.code()).as(run.output()).isZero();
      container = run.output().strip();
      Api api = new Api(port, "");
      await()
          .atMost(Duration.ofMinutes(5))
          .pollInterval(Duration.ofMillis(500))
          .ignoreExceptions()
          .untilAsserted(
              () -> {
                Map<String, Object> st = api.status("vtrack");
                assertThat(st.get("phase"))
                    .as("%s\n%s", st, docker("logs", container).output())
                    .isEqualTo("Healthy");
                assertThat(st.get("currentCommit")).isEqualTo(c1);
              });
      // The app's containers run, labelled with the commit, started by the agent in the image.
      var ps =
          docker(
              "ps",
              "--filter",
              "label=com.docker.compose.project=" + project,
              "--format",
              "{{.Label \"io.vtrack.commit\"}}");
      assertThat(ps.output().strip().lines().toList()).hasSize(2).allMatch(c1::equals);
      assertThat(docker("logs", container).output()).contains("node-it");
      assertThat(Api.appJson("http://127.0.0.1:" + app.backendPort + "/api/health"))
          .containsEntry("version", "1.0.0");
    }
  }

  @Test
  void theProxyContainerOfTheManifestsMapsTheImagesArchiveOfTheProxy() throws Exception {
    var ds =
        io.fabric8.kubernetes.client.utils.Serialization.unmarshal(
            Files.readString(ROOT.resolve("manifests/daemonset.yaml")),
            io.fabric8.kubernetes.api.model.apps.DaemonSet.class);
    var proxy = ds.getSpec().getTemplate().getSpec().getContainers().get(1);
    List<String> command = new ArrayList<>(proxy.getCommand());
    // -Xshare:on: the JVM refuses to start unless it maps the archive (made for this image's Java
    // and jar). The proxy serves a throwaway route through it and exits, as the image's build did.
    command.add(1, "-Xshare:on");
    List<String> cmd =
        new ArrayList<>(
            List.of(
                "run",
                "--rm",
                "--network",
                "host",
                "--read-only",
                "--tmpfs",
                "/tmp",
                "--entrypoint",
                command.get(0),
                IMAGE));
    cmd.addAll(command.subList(1, command.size()));
    cmd.addAll(
        List.of("proxy", "--state-dir=/tmp/state", "--token-file=/dev/null", "--exit-when-ready"));
    var run = docker(cmd.toArray(String[]::new));
    assertThat(run.code()).as(run.output()).isZero();
    assertThat(run.output()).doesNotContain("shared archive");
  }
}
