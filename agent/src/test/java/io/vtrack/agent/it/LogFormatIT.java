package io.vtrack.agent.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.json.JsonMapper;

/**
 * {@code logFormat: json}: the agent (its own JVM) writes one JSON object per line, through
 * logback's JSON encoder, and the lines about a rollout carry the deployment, the rollout id and
 * the commit as fields.
 */
class LogFormatIT {
  @TempDir Path tmp;

  @Test
  @SuppressWarnings("unchecked")
  void everyLineIsAJsonObjectAndRolloutLinesNameTheirDeploymentRolloutAndCommit() throws Exception {
    try (TestApp app = new TestApp(tmp.resolve("repos"));
        AgentProcess agent =
            new AgentProcess(
                tmp.resolve("agent"),
                tmp.resolve("agent").resolve("state"),
                "  - git: {repoURL: \"%s\", branch: main, path: ., interval: 300ms}\nlogFormat: json"
                    .formatted(app.deployUrl()))) {
      String v1 = app.app.getRepository().resolve("v1^{commit}").getName();
      app.deploy("v1");
      agent.start();
      agent.awaitState("Healthy", v1);
      agent.close();
      String log = Files.readString(tmp.resolve("agent").resolve("agent-1.log"));
      JsonMapper json = JsonMapper.builder().build();
      List<Map<String, Object>> lines = new ArrayList<>();
      for (String line : log.lines().filter(l -> !l.isBlank()).toList()) {
        lines.add(json.readValue(line, Map.class));
      }
      assertThat(lines).isNotEmpty().allSatisfy(l -> assertThat(l).containsKeys("level"));
      assertThat(lines)
          .anySatisfy(
              l -> {
                assertThat(String.valueOf(l.get("formattedMessage"))).contains("rollout 1");
                assertThat(String.valueOf(l.get("kvpList")))
                    .contains("deployment=vtrack")
                    .contains("rolloutId=1")
                    .contains("commit=" + v1);
              });
    }
  }
}
