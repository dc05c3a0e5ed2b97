package io.vtrack.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.fail;

import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.json.JsonMapper;

/**
 * The agent's metrics read by a real Prometheus (Debian's, installed by scripts/test-setup.sh):
 * {@code promtool check metrics} passes on {@code /metrics}; Prometheus scrapes the agent with the
 * bearer token from its token file, and its HTTP API answers the rollout, check and phase series;
 * the shipped alert rules load, pass {@code promtool check rules} and their unit tests. With
 * CI=true it may not skip.
 */
class PrometheusIT extends AgentTestBase {
  static final Path RULES = Path.of("..", "packaging", "prometheus").toAbsolutePath().normalize();
  private static final JsonMapper JSON = JsonMapper.builder().build();
  private final HttpClient http = HttpClient.newHttpClient();

  @BeforeAll
  static void prometheus() {
    boolean there =
        Files.isExecutable(Path.of("/usr/bin/prometheus"))
            && Files.isExecutable(Path.of("/usr/bin/promtool"));
    if (!there) {
      if ("true".equals(System.getenv("CI"))) {
        fail("CI=true but Debian's prometheus is not installed (scripts/test-setup.sh)");
      }
      Assumptions.abort("prometheus and promtool are not installed");
    }
  }

  static DebPackageIT.Run promtool(Path dir, String stdin, String... args) throws Exception {
    List<String> cmd = new java.util.ArrayList<>(List.of("promtool"));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
    if (stdin != null) {
      p.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
    }
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    return new DebPackageIT.Run(p.waitFor(), out);
  }

  @Test
  void theAlertRulesAreValidAndTheirUnitTestsPass() throws Exception {
    var check = promtool(RULES, null, "check", "rules", "vtrack-alerts.yml");
    assertThat(check.code()).as(check.output()).isZero();
    var test = promtool(RULES, null, "test", "rules", "vtrack-alerts.test.yml");
    assertThat(test.code()).as(test.output()).isZero();
    // The chart ships the same rules.
    assertThat(Path.of("..", "helm", "vtrack-agent", "files", "vtrack-alerts.yml"))
        .hasSameTextualContentAs(RULES.resolve("vtrack-alerts.yml"));
  }

  @SuppressWarnings("unchecked")
  List<Map<String, Object>> query(int port, String promql) throws Exception {
    HttpResponse<String> r =
        http.send(
            HttpRequest.newBuilder(
                    URI.create(
                        "http://127.0.0.1:"
                            + port
                            + "/api/v1/query?query="
                            + URLEncoder.encode(promql, StandardCharsets.UTF_8)))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    Map<String, Object> body = JSON.readValue(r.body(), Map.class);
    return (List<Map<String, Object>>) ((Map<String, Object>) body.get("data")).get("result");
  }

  @Test
  @SuppressWarnings("unchecked")
  void prometheusScrapesTheAgentAndAnswersItsSeries() throws Exception {
    String v1 = deployHealthy("v1");
    assertThat(v1).isNotNull();
    int agentPort = agent.agent.port();
    String metrics =
        http.send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + agentPort + "/metrics"))
                    .build(),
                HttpResponse.BodyHandlers.ofString())
            .body();
    var lint = promtool(tmp, metrics, "check", "metrics");
    assertThat(lint.code()).as(lint.output()).isZero();

    int port = TestApp.freePort();
    Path config = tmp.resolve("prometheus.yml");
    Files.writeString(
        config,
        """
        global: {scrape_interval: 1s, evaluation_interval: 1s}
        rule_files: ["%s"]
        scrape_configs:
          - job_name: vtrack-agent
            authorization: {type: Bearer, credentials_file: "%s"}
            static_configs: [{targets: ["127.0.0.1:%d"]}]
        """
            .formatted(
                RULES.resolve("vtrack-alerts.yml"),
                agent.stateDir.resolve("api-token"),
                agentPort));
    Process prom =
        new ProcessBuilder(
                "prometheus",
                "--config.file=" + config,
                "--storage.tsdb.path=" + tmp.resolve("tsdb"),
                "--web.listen-address=127.0.0.1:" + port)
            .redirectErrorStream(true)
            .redirectOutput(tmp.resolve("prometheus.log").toFile())
            .start();
    try {
      await()
          .atMost(Duration.ofSeconds(90))
          .pollInterval(Duration.ofMillis(500))
          .ignoreExceptions()
          .untilAsserted(
              () ->
                  assertThat(query(port, "up{job=\"vtrack-agent\"} == 1"))
                      .as("%s", Files.readString(tmp.resolve("prometheus.log")))
                      .hasSize(1));
      await()
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(500))
          .untilAsserted(
              () -> {
                assertThat(query(port, "vtrack_rollouts_total{result=\"Succeeded\"}"))
                    .anySatisfy(
                        s ->
                            assertThat((Map<String, Object>) s.get("metric"))
                                .containsEntry("deployment", app.name));
                assertThat(query(port, "vtrack_deployment_phase{phase=\"Healthy\"} == 1"))
                    .hasSize(1);
                assertThat(query(port, "sum(vtrack_check_results_total) > 0")).hasSize(1);
                assertThat(query(port, "vtrack_rollout_steps_total{step=\"backup\"}")).isNotEmpty();
              });
      String rules =
          http.send(
                  HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/v1/rules"))
                      .build(),
                  HttpResponse.BodyHandlers.ofString())
              .body();
      assertThat(rules).contains("VTrackDeploymentRolledBack").contains("VTrackAgentDown");
    } finally {
      prom.destroy();
      prom.waitFor();
    }
  }
}
