package io.vtrack.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.vtrack.agent.runtime.OrphanScan;
import io.vtrack.agent.runtime.ProcStat;
import io.vtrack.agent.store.ProcessRepository.ProcessRow;
import io.vtrack.agent.store.StateStore;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Power loss: the agent halted at a named point of a rollout (a stage's start, or between the
 * statements of a transition) and, at the same moment, every app process killed; then only the
 * agent starts again. It must make the world match the store and finish: a good commit ends Healthy
 * and is never quarantined, a bad one ends rolled back.
 */
@Order(2) // long: started early
class PowerLossIT {
  @TempDir Path tmp;

  @ParameterizedTest(name = "power lost at {0}")
  @CsvSource({
    "stage.Preparing, good",
    "stage.Validating, good",
    "stage.BackingUp, good",
    "stage.Deploying, good",
    "stage.Verifying, good",
    "begin.mid, good",
    "verified.mid, good",
    "finish.mid, good",
    "store.beforeCommit, good",
    "stage.RollingBack, bad",
    "fail.mid, bad",
  })
  void theRolloutFinishesCorrectly(String crashAt, String revision) throws Exception {
    boolean good = revision.equals("good");
    try (TestApp app = new TestApp(tmp.resolve("repos"));
        AgentProcess agent = new AgentProcess(tmp.resolve("agent"), app.deployUrl(), "300ms")) {
      app.timings = "startupTimeout: 20s\n    interval: 300ms\n    window: 1500ms";
      String v1 = app.app.getRepository().resolve("v1^{commit}").getName();
      app.deploy("v1");
      agent.start();
      agent.awaitState("Healthy", v1);

      String v2 = good ? app.goodUpgrade("2.0.0", "v2") : app.breakContract("v2");
      String expected = good ? v2 : v1;
      powerLostAt(crashAt, app, agent, good, expected, v2);
      awaitRunning(agent, "vtrack", expected);
      try (StateStore s = StateStore.open(agent.stateDir)) {
        List<ProcessRow> rows = s.processes().of("vtrack");
        // Nothing runs that the store does not account for.
        assertThat(OrphanScan.find(agent.stateDir))
            .extracting(OrphanScan.Found::pgid)
            .containsExactlyInAnyOrderElementsOf(rows.stream().map(ProcessRow::pgid).toList());
      }
      List<Map<String, Object>> history = agent.api().history("vtrack");
      assertThat(history.get(0).get("result")).isEqualTo(good ? "Succeeded" : "RolledBack");
    }
  }

  /**
   * The same with blue-green, where the power takes the switch proxy too: only the agent starts
   * again. It must bring back the proxy and the release the store says is live, finish the rollout
   * (a good commit switched to and Healthy, a bad one rolled back with the rows restored), and the
   * public address must serve it.
   */
  @ParameterizedTest(name = "blue-green, power lost at {0}")
  @CsvSource({
    "stage.Deploying, good",
    "candidate.recorded, good",
    "verified.mid, good",
    "switched.mid, good",
    "finish.mid, good",
    "stage.Verifying, deletesRows",
    "fail.mid, deletesRows",
    "restored.mid, deletesRows",
  })
  void theBlueGreenRolloutFinishesCorrectly(String crashAt, String revision) throws Exception {
    boolean good = revision.equals("good");
    try (TestApp app = new TestApp(tmp.resolve("repos"));
        AgentProcess agent = new AgentProcess(tmp.resolve("agent"), app.deployUrl(), "300ms")) {
      String v1 = BlueGreenRestartIT.v1Healthy(app, agent);
      Path db =
          agent.stateDir.resolve("deployments/" + app.name + "/shared/backend/database/events.db");
      long before = BlueGreenIT.rows(db);
      String v2 = good ? app.goodUpgrade("2.0.0", "v2") : app.deleteRowsInMigration("v2");
      String expected = good ? v2 : v1;
      powerLostAt(crashAt, app, agent, good, expected, v2);
      publicAddressesServe(app, good ? "2.0.0" : "1.0.0");
      if (!good) {
        assertThat(BlueGreenIT.rows(db)).as("rows after the rollback").isEqualTo(before);
      }
      awaitRunning(agent, "vtrack@" + BlueGreenRestartIT.liveColour(agent), expected);
      List<Map<String, Object>> history = agent.api().history("vtrack");
      assertThat(history.get(0).get("result")).isEqualTo(good ? "Succeeded" : "RolledBack");
    }
  }

  /**
   * The store's processes of instance {@code key} are its backend and frontend of {@code commit},
   * alive. Waited for (30 s): a service the agent restarts just then has a row that is a moment
   * behind. A first look that found otherwise is printed with the agent's log, so that a restart
   * after the end state is seen in the test's output, not only a failure.
   */
  static void awaitRunning(AgentProcess agent, String key, String commit) throws Exception {
    boolean[] first = {true};
    try {
      await()
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(100))
          .untilAsserted(
              () -> {
                try (StateStore s = StateStore.open(agent.stateDir)) {
                  List<ProcessRow> rows = s.processes().of(key);
                  try {
                    assertThat(rows)
                        .extracting(ProcessRow::service)
                        .containsExactlyInAnyOrder("backend", "frontend");
                    for (ProcessRow r : rows) {
                      assertThat(r.commit()).isEqualTo(commit);
                      assertThat(ProcStat.isAlive(r.pid(), r.startTicks())).as("%s", r).isTrue();
                    }
                  } catch (AssertionError e) {
                    if (first[0]) {
                      first[0] = false;
                      System.err.println(
                          "not yet running as the end state says: " + e.getMessage().strip());
                    }
                    throw e;
                  }
                }
              });
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      throw new AssertionError(e.getMessage() + "\n" + agent.log(), e);
    }
    if (!first[0]) {
      System.err.println("(running 100 ms later or more; the agent's log)\n" + agent.log());
    }
  }

  /** Users reach the release of {@code version} through the public addresses the proxy owns. */
  static void publicAddressesServe(TestApp app, String version) {
    await()
        .atMost(Duration.ofSeconds(30))
        .ignoreExceptions()
        .untilAsserted(
            () ->
                assertThat(Api.appJson("http://127.0.0.1:" + app.backendPort + "/api/health"))
                    .containsEntry("version", version));
    await()
        .atMost(Duration.ofSeconds(30))
        .ignoreExceptions()
        .untilAsserted(
            () ->
                assertThat(
                        Api.appJson(
                            "http://127.0.0.1:" + app.frontendPort + "/api/config/get-sources"))
                    .containsKey("data"));
  }

  /**
   * v2 deployed to an agent that halts at {@code crashAt}, every app process (and the proxy) killed
   * with it, then only the agent started again: it ends Healthy on v2 or RolledBack to {@code
   * expected} with v2 quarantined.
   */
  @SuppressWarnings("unchecked")
  static void powerLostAt(
      String crashAt, TestApp app, AgentProcess agent, boolean good, String expected, String v2)
      throws Exception {
    agent.kill();
    app.deploy("v2");
    // The same agent, told to halt at the point under test: nothing but the JVM's halt stops it.
    agent.startNoWait(Map.of("VTRACK_CRASH_AT", crashAt));
    assertThat(agent.awaitExit(Duration.ofSeconds(120))).as(agent.log()).isEqualTo(137);
    // The power went: every app process dies with the agent.
    InProcessAgent.killApp(agent.stateDir);
    await().atMost(Duration.ofSeconds(30)).until(() -> OrphanScan.find(agent.stateDir).isEmpty());

    agent.start();
    agent.awaitState(good ? "Healthy" : "RolledBack", expected);
    Map<String, Object> st = agent.api().status("vtrack");
    assertThat((List<Object>) st.getOrDefault("quarantinedCommits", List.of()))
        .as("status %s\n%s", st, agent.log())
        .isEqualTo(good ? List.of() : List.of(v2));
  }
}
