package io.vtrack.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.vtrack.agent.runtime.ProcStat;
import io.vtrack.agent.store.StateStore;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

/** The example app in git and an in-process agent for it, with the waits every IT needs. */
abstract class AgentTestBase {
  static final Duration LONG = Duration.ofSeconds(90);

  @TempDir Path tmp;
  TestApp app;
  InProcessAgent agent;

  @BeforeEach
  void createApp() throws Exception {
    app = new TestApp(tmp);
  }

  @AfterEach
  void closeAll() throws Exception {
    if (agent != null) {
      agent.close();
    }
    app.close();
  }

  InProcessAgent start(String pollInterval) throws Exception {
    agent = new InProcessAgent(tmp, app, pollInterval);
    return agent;
  }

  /**
   * Deploys {@code revision} with an agent polling every 300ms; returns its commit once Healthy.
   */
  String deployHealthy(String revision) throws Exception {
    return deployHealthy(revision, "300ms");
  }

  /** As {@link #deployHealthy(String)}, with the agent polling every {@code pollInterval}. */
  String deployHealthy(String revision, String pollInterval) throws Exception {
    app.deploy(revision);
    String commit = commitOf(revision);
    start(pollInterval);
    awaitPhase("Healthy", commit);
    return commit;
  }

  /**
   * Until the history holds {@code n} rollouts, the newest Succeeded and the deployment Healthy.
   */
  void awaitRollouts(int n) {
    await()
        .atMost(LONG)
        .pollInterval(Duration.ofMillis(100))
        .untilAsserted(
            () -> {
              List<Map<String, Object>> h = agent.api.history(app.name);
              assertThat(h).hasSize(n);
              assertThat(h.get(0).get("result")).as("%s", h.get(0)).isEqualTo("Succeeded");
              assertThat(status().get("phase")).isEqualTo("Healthy");
            });
  }

  /** Waits until deployment {@code name} is Stalled, its conditions saying each of {@code said}. */
  void awaitStalled(String name, String... said) {
    await()
        .atMost(LONG)
        .untilAsserted(
            () -> {
              Map<String, Object> st = agent.api.status(name);
              assertThat(st.get("phase")).as("%s", st).isEqualTo("Stalled");
              assertThat(String.valueOf(st.get("conditions"))).contains(said);
            });
  }

  /**
   * Until the newest rollout, to {@code commit}, has recorded a round of its stage {@code stage}
   * ({@code Verifying}, {@code Previewing}).
   */
  void awaitRounds(String commit, String stage) {
    await()
        .atMost(LONG)
        .until(
            () -> {
              Map<String, Object> r = agent.api.history(app.name).get(0);
              return commit.equals(r.get("to"))
                  && r.get("checks") instanceof List<?> c
                  && c.stream()
                      .anyMatch(
                          x -> String.valueOf(((Map<?, ?>) x).get("stage")).startsWith(stage));
            });
  }

  String commitOf(String revision) throws Exception {
    return app.app.getRepository().resolve(revision + "^{commit}").getName();
  }

  Map<String, Object> status() {
    return agent.api.status(app.name);
  }

  void awaitPhase(String phase, String commit) {
    awaitPhase(app.name, phase, commit);
  }

  void awaitPhase(String name, String phase, String commit) {
    await()
        .atMost(LONG)
        .pollInterval(Duration.ofMillis(100))
        .untilAsserted(
            () -> {
              Map<String, Object> st = agent.api.status(name);
              assertThat(st.get("phase")).as("phase; status: %s", st).isEqualTo(phase);
              if (commit != null) {
                assertThat(st.get("currentCommit"))
                    .as("current commit; status %s", st)
                    .isEqualTo(commit);
              }
            });
  }

  /**
   * Waits until the rollout to {@code commit} retries in Preparing with {@code Ready=False}, {@code
   * SourceUnavailable}, saying each of {@code said} (and no terminal colour codes); then checks
   * that {@code commit} is not quarantined.
   */
  @SuppressWarnings("unchecked")
  void awaitRetryingInPreparing(String commit, String... said) {
    await()
        .atMost(LONG)
        .pollInterval(Duration.ofMillis(100))
        .untilAsserted(
            () -> {
              Map<String, Object> st = status();
              assertThat(st.get("phase")).isEqualTo("Preparing");
              assertThat(st.get("desiredCommit")).isEqualTo(commit);
              Map<?, ?> ready = readyCondition(st);
              assertThat(ready.get("reason")).isEqualTo("SourceUnavailable");
              assertThat(String.valueOf(ready.get("message")))
                  .contains(said)
                  .doesNotContain("\u001B");
            });
    assertThat((List<Object>) status().getOrDefault("quarantinedCommits", List.of()))
        .doesNotContain(commit);
  }

  /** The Ready condition of the deployment's status {@code st}. */
  static Map<?, ?> readyCondition(Map<String, Object> st) {
    return ((List<Map<?, ?>>) st.get("conditions"))
        .stream().filter(c -> "Ready".equals(c.get("type"))).findFirst().orElseThrow();
  }

  long backendPid() throws Exception {
    return recordedBackendPid(agent.stateDir, app.name).orElseThrow();
  }

  /**
   * The pid of {@code deployment}'s backend as the state store records it now: none between a stop
   * and the next start.
   */
  static OptionalLong recordedBackendPid(Path stateDir, String deployment) throws Exception {
    try (StateStore s = StateStore.open(stateDir)) {
      return s.processes().of(deployment).stream()
          .filter(p -> p.service().equals("backend"))
          .mapToLong(p -> p.pid())
          .findFirst();
    }
  }

  /**
   * Until a live backend other than {@code pid} is recorded (it was restarted); a moment with none
   * recorded, between the stop and the start, is not yet.
   */
  static void awaitBackendOtherThan(Path stateDir, String deployment, long pid, Duration atMost) {
    await()
        .atMost(atMost)
        .until(
            () -> {
              var now = recordedBackendPid(stateDir, deployment);
              return now.isPresent()
                  && now.getAsLong() != pid
                  && ProcStat.read(now.getAsLong()).map(ProcStat::alive).orElse(false);
            });
  }

  /** The version the running backend reports, or null when it does not answer. */
  String runningVersion() {
    Map<String, Object> h = Api.appJson("http://127.0.0.1:" + app.backendPort + "/api/health");
    return h == null ? null : (String) h.get("version");
  }
}
