package io.vtrack.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.vtrack.agent.runtime.ProcStat;
import io.vtrack.agent.store.StateStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The agent killed with SIGKILL at each persisted step of a rollout, then restarted: it must end
 * correct — the new revision verified, or rolled back — with exactly one revision running.
 */
@Order(3) // long: started early
class AgentRestartIT {
  enum Case {
    Preparing(false),
    Validating(false),
    BackingUp(false),
    Deploying(false),
    Verifying(false),
    RollingBack(true);

    final boolean badRevision;

    Case(boolean badRevision) {
      this.badRevision = badRevision;
    }
  }

  @TempDir Path tmp;

  @ParameterizedTest(name = "killed while {0}")
  @EnumSource(Case.class)
  void endsCorrectAfterARestart(Case c) throws Exception {
    try (TestApp app = new TestApp(tmp.resolve("repos"))) {
      // Each step made to last long enough to be caught, by real means only: a slow prepare and
      // validate command, a big database, a backend that ignores its stop signal, a long window.
      app.extraSpec =
          """
            prepare:
              - {name: slow, command: [sleep, "3"], timeout: 30s}
          """;
      app.validate =
          """
            validate:
              - {name: slow-syntax, command: [sh, -c, "sleep 3 && python3 -m py_compile backend/app.py"], timeout: 30s}
          """;
      app.timings = "startupTimeout: 8s\n    interval: 300ms\n    window: 4s";
      String v1 = app.app.getRepository().resolve("v1^{commit}").getName();
      app.deploy("v1");
      Files.writeString(
          app.deployDir.resolve("vtrack.yaml"),
          Files.readString(app.deployDir.resolve("vtrack.yaml"))
              .replaceFirst(
                  "stop: \\{signal: TERM, timeout: 5s}", "stop: {signal: WINCH, timeout: 3s}"));
      commitDeploy(app, "slow stop");

      try (AgentProcess agent = new AgentProcess(tmp.resolve("agent"), app.deployUrl(), "300ms")) {
        agent.start();
        agent.awaitState("Healthy", v1);
        Path db = agent.stateDir.resolve("deployments/vtrack/shared/backend/database/events.db");
        if (c == Case.BackingUp) {
          grow(db, 400);
        }
        String v2;
        if (c.badRevision) {
          app.edit(
              "backend/app.py",
              s -> s.replace("{\"success\": True, \"data\": data}", "{\"success\": True}"));
          v2 = app.commitApp("Break the contract", "v2");
        } else {
          v2 = app.goodUpgrade("2.0.0", "v2");
        }
        String slowStop =
            Files.readString(app.deployDir.resolve("vtrack.yaml"))
                .replace("revision: v1", "revision: v2");
        Files.writeString(app.deployDir.resolve("vtrack.yaml"), slowStop);
        commitDeploy(app, "Deploy v2");

        await()
            .atMost(Duration.ofSeconds(90))
            .pollInterval(Duration.ofMillis(20))
            .until(() -> c.name().equals(agent.api().status("vtrack").get("phase")));
        agent.kill();
        agent.start();

        String expectedPhase = c.badRevision ? "RolledBack" : "Healthy";
        String expectedCommit = c.badRevision ? v1 : v2;
        agent.awaitState(expectedPhase, expectedCommit);
        Map<String, Object> st = agent.api().status("vtrack");
        assertThat(st.get("lastHealthyCommit")).isEqualTo(expectedCommit);
        if (c.badRevision) {
          assertThat((List<Object>) st.get("quarantinedCommits")).containsExactly(v2);
        }
        // Exactly one revision runs: every recorded process is alive and of the expected commit,
        // and no process of the other release is left anywhere on the host.
        String other = c.badRevision ? v2 : v1;
        try (StateStore s = StateStore.open(agent.stateDir)) {
          List<io.vtrack.agent.store.ProcessRepository.ProcessRow> rows =
              s.processes().of("vtrack");
          assertThat(rows)
              .extracting(io.vtrack.agent.store.ProcessRepository.ProcessRow::service)
              .containsExactlyInAnyOrder("backend", "frontend");
          for (io.vtrack.agent.store.ProcessRepository.ProcessRow r : rows) {
            assertThat(r.commit()).isEqualTo(expectedCommit);
            assertThat(ProcStat.isAlive(r.pid(), r.startTicks())).isTrue();
          }
        }
        assertThat(
                HostProcesses.runningIn(
                    agent.stateDir.resolve("deployments/vtrack/releases/" + other)))
            .as("processes still running from %s", other)
            .isEmpty();
        Map<String, Object> h = Api.appJson("http://127.0.0.1:" + app.backendPort + "/api/health");
        assertThat(h).isNotNull();
        assertThat(h.get("version")).isEqualTo(c.badRevision ? "1.0.0" : "2.0.0");
        List<Map<String, Object>> history = agent.api().history("vtrack");
        assertThat(history.get(0).get("result"))
            .as(agent.log())
            .isEqualTo(c.badRevision ? "RolledBack" : "Succeeded");
        assertThat(history).as("one rollout to v2, resumed, not restarted").hasSize(2);
      }
    }
  }

  /**
   * A worker that a running service started in a session of its own is that service's: a restarted
   * agent leaves it running with the service (it stops with the service).
   */
  @org.junit.jupiter.api.Test
  void aWorkerARunningServiceDetachedOutlivesAnAgentRestart() throws Exception {
    try (TestApp app = new TestApp(tmp.resolve("repos"))) {
      app.detachesAWorker("detached-worker-of-v1w");
      String v1 = app.commitApp("A detached worker", "v1w");
      app.deploy("v1w");
      try (AgentProcess agent = new AgentProcess(tmp.resolve("agent"), app.deployUrl(), "300ms")) {
        agent.start();
        agent.awaitState("Healthy", v1);
        await()
            .atMost(Duration.ofSeconds(10))
            .until(() -> HostProcesses.withCommandLine("detached-worker-of-v1w").size() == 1);
        long worker = HostProcesses.withCommandLine("detached-worker-of-v1w").get(0);
        long backend = backendPid(agent);

        agent.kill();
        agent.start();
        agent.awaitState("Healthy", v1);
        assertThat(backendPid(agent)).as("the backend, adopted").isEqualTo(backend);
        assertThat(HostProcesses.withCommandLine("detached-worker-of-v1w"))
            .as("the worker of the adopted backend")
            .containsExactly(worker);

        app.removeDocument();
        await()
            .atMost(Duration.ofSeconds(30))
            .until(() -> HostProcesses.withCommandLine("detached-worker-of-v1w").isEmpty());
      }
    }
  }

  private static long backendPid(AgentProcess agent) throws Exception {
    try (StateStore s = StateStore.open(agent.stateDir)) {
      return s.processes().of("vtrack").stream()
          .filter(r -> r.service().equals("backend"))
          .findFirst()
          .orElseThrow()
          .pid();
    }
  }

  private static void commitDeploy(TestApp app, String message) throws Exception {
    app.deploy.add().addFilepattern(".").call();
    app.deploy
        .commit()
        .setMessage(message)
        .setAuthor("t", "t@example.com")
        .setCommitter("t", "t@example.com")
        .call();
  }

  /** Adds about {@code mb} megabytes to the database so that its backup takes a while. */
  private static void grow(Path db, int mb) throws Exception {
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db);
        Statement st = c.createStatement()) {
      st.execute("PRAGMA busy_timeout=10000");
      st.execute("CREATE TABLE IF NOT EXISTS ballast (b BLOB)");
      c.setAutoCommit(false);
      for (int i = 0; i < mb; i++) {
        st.execute("INSERT INTO ballast VALUES (randomblob(1048576))");
      }
      c.commit();
    }
  }
}
