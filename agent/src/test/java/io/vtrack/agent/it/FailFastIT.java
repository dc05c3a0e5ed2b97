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
    assertThat(step("verify-rollback").get("output").toString())
        .contains("the last healthy revision passed a full round (")
        .doesNotContain("ended by");
  }

  /** The step {@code name} of the last rollout. */
  private Map<String, Object> step(String name) throws Exception {
    List<Map<String, Object>> steps =
        (List<Map<String, Object>>) agent.api.history(app.name).get(0).get("steps");
    return steps.stream().filter(s -> name.equals(s.get("name"))).findFirst().orElseThrow();
  }

  @Test
  void aBrokenContractFailsOnTwoWrongRounds() throws Exception {
    String v1 = deployHealthy("v1");
    String bad = app.breakContract("v2");
    app.deploy("v2");
    rolledBackFor(
        v1, bad, "ChecksFailed", "2 rounds in a row answered wrong", "missing JSON keys [data]");
    // The verify step says the rule that ended it once, not again as "ended by".
    assertThat(step("verify").get("output").toString())
        .contains("(2 rounds)")
        .doesNotContain("ended by");
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

  /**
   * An endpoint that never answers while the app answers the others: wrong, not "not ready" — the
   * startupTimeout of a minute is not waited out. Each of the two rounds waits for the check's
   * default 5 s timeout.
   */
  @Test
  void anEndpointThatHangsWhileTheAppAnswersFailsOnTwoRounds() throws Exception {
    String v1 = deployHealthy("v1");
    String bad = app.hangingEndpoint("v2");
    app.deploy("v2");
    rolledBackFor(
        v1,
        bad,
        "ChecksFailed",
        "sources: no response within 5s (while 127.0.0.1:" + app.backendPort + " answered");
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
    String verify =
        rolledBackBetweenRounds(v1, bad, "ServiceExited", "backend", "exited with code 3");
    // It passed a round (the exit came during the wait for the next).
    assertThat(verify).contains("(1 round; ended by: a service exited");
  }

  /**
   * A revision that passes its first round, then logs an error: the log is counted when it is
   * written (the kernel says so), not at the next round 30 s later. The log is app.log in a shared
   * path, so the file is watched behind the release's symbolic link.
   */
  @Test
  void anErrorLoggedBetweenRoundsFailsAtOnce() throws Exception {
    app.extraChecks +=
        """
              - name: no-errors
                log: {file: backend/logs/app.log, pattern: "(?i)\\\\berror\\\\b", max: 0}
        """;
    String v1 = deployHealthy("v1");
    String bad = app.logsErrorAfter(3, "v2");
    String verify =
        rolledBackBetweenRounds(v1, bad, "WindowFailed", "no-errors", "db write failed");
    // Round 1 passed, round 2 ran as soon as the error was written.
    assertThat(verify).contains("2 rounds");
  }

  /**
   * Deploys {@code bad} with rounds 30 s apart and expects it rolled back for {@code reason} long
   * before a second interval passed; returns the output of its verify step.
   */
  private String rolledBackBetweenRounds(String v1, String bad, String reason, String... inMessage)
      throws Exception {
    app.timings = "startupTimeout: 60s\n    interval: 30s\n    window: 60s";
    app.deploy("v2");
    awaitPhase("RolledBack", v1);
    Map<String, Object> last = lastRollout();
    assertThat(last.get("reason")).as("rollout %s", last).isEqualTo(reason);
    assertThat(last.get("message").toString()).contains(inMessage);
    assertThat((List<Object>) status().get("quarantinedCommits")).containsExactly(bad);
    assertThat(runningVersion()).isEqualTo("1.0.0");
    Map<String, Object> verify = step("verify");
    assertThat(((Number) verify.get("durationMs")).longValue()).isLessThan(25_000);
    return verify.get("output").toString();
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
