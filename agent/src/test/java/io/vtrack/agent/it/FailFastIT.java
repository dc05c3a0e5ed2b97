package io.vtrack.agent.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Fail as soon as the failure is certain (DESIGN.md §2, check semantics), on the example app as
 * real processes. startupTimeout is a minute here: a rollout that waited for it would end with
 * {@code StartupTimeout}, so {@code ChecksFailed} itself proves it did not wait. And no false
 * alarm: a revision that is slow to come up, warms up with 503s, or answers wrong once is good.
 */
@SuppressWarnings("unchecked")
class FailFastIT extends AgentTestBase {

  @BeforeEach
  void policy() {
    app.timings = "startupTimeout: 60s\n    interval: 300ms\n    window: 1500ms";
    app.extraChecks =
        """
              - name: latency
                latency: {url: "http://127.0.0.1:%1$d/api/config/get-sources?probe=latency", samples: 5, maxIncrease: 50%%, minDelta: 100ms}
              - name: memory
                memory: {service: backend, maxIncrease: 50%%}
        """
            .formatted(app.backendPort);
  }

  private Map<String, Object> lastRollout() {
    return (Map<String, Object>) status().get("lastRollout");
  }

  private void rolledBackFor(String v1, String bad, String reason, String... inMessage)
      throws Exception {
    awaitPhase("RolledBack", v1);
    Map<String, Object> last = lastRollout();
    assertThat(last.get("reason")).as("rollout %s", last).isEqualTo(reason);
    assertThat(last.get("message").toString()).contains(inMessage);
    assertThat((List<Object>) status().get("quarantinedCommits")).containsExactly(bad);
    assertThat(runningVersion()).isEqualTo("1.0.0");
    // The rollback ended on the first passing round of the known-good revision.
    List<Map<String, Object>> steps =
        (List<Map<String, Object>>) agent.api.history(app.name).get(0).get("steps");
    assertThat(steps)
        .anySatisfy(
            s -> {
              assertThat(s.get("name")).isEqualTo("verify-rollback");
              assertThat(s.get("output").toString()).contains("passed a full round");
            });
  }

  @Test
  void aBrokenContractFailsOnTwoWrongRounds() throws Exception {
    String v1 = deployHealthy("v1");
    String bad = app.breakContract("v2");
    app.deploy("v2");
    rolledBackFor(
        v1, bad, "ChecksFailed", "2 rounds in a row answered wrong", "missing JSON keys [data]");
  }

  @Test
  void deletedRowsFailOnTwoWrongRounds() throws Exception {
    String v1 = deployHealthy("v1");
    String bad = app.deleteRowsInMigration("v2");
    app.deploy("v2");
    rolledBackFor(v1, bad, "ChecksFailed", "sources-kept: value 1 decreased from 3");
  }

  @Test
  void aSlowerRevisionFailsOnceWarm() throws Exception {
    String v1 = deployHealthy("v1");
    String bad = app.slowerEndpoint("v2");
    app.deploy("v2");
    rolledBackFor(v1, bad, "ChecksFailed", "latency: median", "above +50%");
  }

  @Test
  void aMemoryHogFailsOnceWarm() throws Exception {
    String v1 = deployHealthy("v1");
    String bad = app.memoryHog("v2");
    app.deploy("v2");
    rolledBackFor(v1, bad, "ChecksFailed", "memory: resident", "above +50%");
  }

  /**
   * A revision that passes its first round, then exits: the exit ends verification when it happens,
   * not when the next round would start. The interval is 30 s here, so a rollout that noticed the
   * exit only at the next round would take more than 30 s.
   */
  @Test
  void aServiceThatExitsBetweenRoundsFailsAtOnce() throws Exception {
    String v1 = deployHealthy("v1");
    String bad = app.crashesAfter(3, "v2");
    app.timings = "startupTimeout: 60s\n    interval: 30s\n    window: 60s";
    app.deploy("v2");
    awaitPhase("RolledBack", v1);
    Map<String, Object> last = lastRollout();
    assertThat(last.get("reason")).as("rollout %s", last).isEqualTo("ServiceExited");
    assertThat(last.get("message").toString()).contains("backend", "exited with code 3");
    assertThat((List<Object>) status().get("quarantinedCommits")).containsExactly(bad);
    List<Map<String, Object>> steps =
        (List<Map<String, Object>>) agent.api.history(app.name).get(0).get("steps");
    Map<String, Object> verify =
        steps.stream().filter(s -> "verify".equals(s.get("name"))).findFirst().orElseThrow();
    // It passed a round (the exit came during the wait for the next) and ended long before it.
    assertThat(verify.get("output").toString()).contains("1 rounds", "ended by: a service exited");
    assertThat(((Number) verify.get("durationMs")).longValue()).isLessThan(25_000);
    assertThat(runningVersion()).isEqualTo("1.0.0");
  }

  @Test
  void aRevisionThatNeedsSecondsToBindIsHealthy() throws Exception {
    deployHealthy("v1");
    String good = app.slowToBind(5, "v2");
    app.deploy("v2");
    awaitPhase("Healthy", good);
    assertThat(lastRollout().get("result")).isEqualTo("Succeeded");
  }

  @Test
  void a503WhileWarmingUpIsNotReadyNotWrong() throws Exception {
    deployHealthy("v1");
    String good = app.warmsUpWith503(3, "v2");
    app.deploy("v2");
    awaitPhase("Healthy", good);
    // It did answer 503 during startup, and that was waited for.
    List<Map<String, Object>> checks =
        (List<Map<String, Object>>) agent.api.history(app.name).get(0).get("checks");
    assertThat(checks)
        .anySatisfy(
            c -> {
              assertThat(c.get("value")).isEqualTo("503");
              assertThat(c.get("failure")).isEqualTo("NotReady");
            });
  }

  @Test
  void oneWrongRoundIsNotTwo() throws Exception {
    deployHealthy("v1");
    String good = app.wrongOnceThenRight("v2");
    app.deploy("v2");
    awaitPhase("Healthy", good);
    List<Map<String, Object>> checks =
        (List<Map<String, Object>>) agent.api.history(app.name).get(0).get("checks");
    assertThat(checks)
        .anySatisfy(
            c -> {
              assertThat(c.get("name")).isEqualTo("sources");
              assertThat(c.get("failure")).isEqualTo("Wrong");
            });
  }
}
