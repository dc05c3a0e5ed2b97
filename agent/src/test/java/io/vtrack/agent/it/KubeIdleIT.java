package io.vtrack.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What agents cost the API server when nothing changes: several agents (each its own agentName,
 * state folder and client, in one JVM) against fabric8's mock API server, each with deployments
 * labelled for it. Once every status is written, the requests each verb and resource gets are
 * counted over several Lease renew periods: the writes per agent stay under 0.2 per second (one
 * Lease per agent name, status written only when it changes) and nothing lists again after the
 * first sync (the informers watch).
 */
class KubeIdleIT {
  static final String NS = "apps";
  static final int AGENTS = 6;
  static final int PER_AGENT = 3;

  @TempDir Path tmp;

  @Test
  void idleAgentsWriteLessThanOnePerFiveSecondsEachAndNeverListAgain() throws Exception {
    List<InProcessAgent> agents = new ArrayList<>();
    // Closed in reverse order: the agents stop before the API server they talk to (stopped under
    // them, each agent's stop waited for its Lease release in vain, with its informers retrying).
    try (KubeApiServer api = new KubeApiServer();
        TestApp app = new TestApp(tmp.resolve("repos"));
        AutoCloseable stopAgents =
            () -> {
              for (InProcessAgent a : agents) {
                a.close();
              }
            }) {
      Path kubeconfig = api.kubeconfig(tmp.resolve("kubeconfig"));
      for (int a = 0; a < AGENTS; a++) {
        for (int d = 0; d < PER_AGENT; d++) {
          String doc =
              app.document(
                      "node-" + a + "-app-" + d,
                      "v1",
                      app.backendPort,
                      app.frontendPort,
                      "  suspend: true\n")
                  .replace(
                      "metadata:\n", "metadata:\n  labels: {vtrack.io/agent: node-" + a + "}\n");
          api.deployments(NS).resource(api.load(NS, doc)).create();
        }
      }
      for (int a = 0; a < AGENTS; a++) {
        Path root = tmp.resolve("agent-" + a);
        java.nio.file.Files.createDirectories(root);
        agents.add(
            new InProcessAgent(
                root, KubeApiServer.agent("node-" + a, root.resolve("state"), NS, kubeconfig)));
      }
      // Every resource has its status (Suspended: observed, nothing run) from its own agent.
      await()
          .atMost(Duration.ofSeconds(120))
          .pollInterval(Duration.ofMillis(500))
          .untilAsserted(
              () -> {
                for (GenericKubernetesResource r : api.deployments(NS).list().getItems()) {
                  Object st = r.getAdditionalProperties().get("status");
                  assertThat(st == null ? null : ((Map<?, ?>) st).get("phase"))
                      .as(r.getMetadata().getName())
                      .isEqualTo("Suspended");
                }
              });
      api.takeCounts();
      long t0 = System.nanoTime();
      // Several renew periods of the default Lease timing (6 s).
      await().pollDelay(Duration.ofSeconds(36)).atMost(Duration.ofSeconds(40)).until(() -> true);
      double seconds = (System.nanoTime() - t0) / 1e9;
      Map<String, Long> counts = api.takeCounts();
      long writes = KubeApiServer.writes(counts);
      double perAgent = writes / seconds / AGENTS;
      System.out.printf(
          "idle: %d agents, %d deployments each, %.0f s: %s; %.3f writes/s per agent%n",
          AGENTS, PER_AGENT, seconds, counts, perAgent);
      assertThat(perAgent).as("writes per second per agent: %s", counts).isLessThanOrEqualTo(0.2);
      assertThat(counts.keySet()).as("requests at idle").noneMatch(k -> k.startsWith("LIST "));
      // One Lease per agent, not one per deployment.
      assertThat(api.client.leases().inNamespace(NS).list().getItems())
          .extracting(l -> l.getMetadata().getName())
          .hasSize(AGENTS)
          .allMatch(n -> n.startsWith("vtrack-agent-node-"));
    }
  }
}
