package io.vtrack.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.vertx.core.Vertx;
import io.vtrack.agent.Agent;
import io.vtrack.agent.config.AgentConfig;
import io.vtrack.agent.model.Interval;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** The agent's world failing under it: none of it is ever blamed on a good commit. */
@SuppressWarnings("unchecked")
class FaultIT extends AgentTestBase {

  @Test
  void aMissingStateStoreWithTheAppRunningIsRefusedNotRunTwice() throws Exception {
    String v1 = deployHealthy("v1");
    long pid = backendPid();
    agent.stopAgent();
    Files.delete(agent.stateDir.resolve("state.db"));
    Files.deleteIfExists(agent.stateDir.resolve("state.db-wal"));
    Files.deleteIfExists(agent.stateDir.resolve("state.db-shm"));
    AgentConfig cfg =
        new AgentConfig(
            "it-agent", agent.stateDir.toString(), "127.0.0.1:0", null, List.of(), List.of());
    Vertx vertx = Vertx.vertx();
    try {
      assertThatThrownBy(() -> vertx.deployVerticle(new Agent(cfg, tmp)).await())
          .hasMessageContaining("state.db is missing")
          .hasMessageContaining("second copy")
          .hasMessageContaining(Long.toString(pid));
    } finally {
      vertx.close().await();
    }
    // What ran before still runs, alone, and nothing made a store behind its back.
    assertThat(runningVersionOn(app.backendPort)).isEqualTo("1.0.0");
    assertThat(io.vtrack.agent.runtime.ProcStat.read(pid)).isPresent();
    assertThat(agent.stateDir.resolve("state.db")).doesNotExist();
    assertThat(v1).isNotNull();
  }

  private static String runningVersionOn(int port) {
    Map<String, Object> h = Api.appJson("http://127.0.0.1:" + port + "/api/health");
    return h == null ? null : (String) h.get("version");
  }

  @Test
  void twentyRollbacksAtOnceWhileAPushArrivesStartExactlyOne() throws Exception {
    String v1 = deployHealthy("v1");
    String v2 = app.goodUpgrade("2.0.0", "v2");
    app.deploy("v2");
    awaitPhase("Healthy", v2);
    String v3 = app.goodUpgrade("3.0.0", "v3");
    ExecutorService pool = Executors.newFixedThreadPool(21);
    List<Future<Api.Answer>> answers = new ArrayList<>();
    try {
      for (int i = 0; i < 20; i++) {
        answers.add(
            pool.submit(
                () ->
                    agent.api.postAuthed(
                        "/api/v1/deployments/vtrack/rollback", "{\"to\": \"" + v1 + "\"}")));
      }
      pool.submit(
          () -> {
            app.deploy("v3");
            return null;
          });
      List<Integer> codes = new ArrayList<>();
      for (Future<Api.Answer> f : answers) {
        codes.add(f.get().status());
      }
      // One of the twenty, or the push, wins; the others are refused, never run alongside.
      long accepted = codes.stream().filter(c -> c == 202).count();
      assertThat(accepted).as("%s", codes).isLessThanOrEqualTo(1);
      assertThat(codes).allMatch(c -> c == 202 || c == 409);
      // The accepted rollback shows in the status as soon as it is answered: v2 no longer
      // healthy as if nothing had been asked.
      if (accepted == 1) {
        Map<String, Object> st = status();
        assertThat(List.of(st.get("phase"), st.get("currentCommit")))
            .as("status after the rollback was accepted: %s", st)
            .isNotEqualTo(List.of("Healthy", v2));
      }
      // Whatever won, the push of v3 is reconciled last: v3 runs healthy, or, stopped by the
      // rollback, is quarantined; either way nothing more follows.
      await()
          .atMost(LONG)
          .until(
              () -> {
                Map<String, Object> st = status();
                return v3.equals(st.get("desiredCommit"))
                    && ("Healthy".equals(st.get("phase")) || "RolledBack".equals(st.get("phase")));
              });
      List<Map<String, Object>> history = agent.api.history("vtrack");
      assertThat(history.stream().filter(h -> "rollback".equals(h.get("kind"))).count())
          .isEqualTo(accepted);
      assertThat(history).allMatch(h -> h.get("result") != null);
      // Newest first: each rollout started after the one before it finished.
      for (int i = 0; i + 1 < history.size(); i++) {
        assertThat(history.get(i).get("startedAt").toString())
            .isGreaterThanOrEqualTo(history.get(i + 1).get("finishedAt").toString());
      }
    } finally {
      pool.shutdown();
    }
  }

  @Test
  void aGitRemoteThatNeverAnswersLeavesTheApiAnsweringAndSaysSo() throws Exception {
    try (SilentServer silent = new SilentServer()) {
      String url = silent.repoUrl();
      Files.writeString(
          app.deployDir.resolve("vtrack.yaml"),
          app.document("v1").replace(app.appDir.toUri().toString(), url));
      app.deploy.add().addFilepattern(".").call();
      app.deploy.commit().setMessage("silent remote").setAuthor("t", "t@example.com").call();
      agent =
          new InProcessAgent(
              tmp,
              List.of(
                  new AgentConfig.SourceConfig(
                      new AgentConfig.GitSourceConfig(
                          app.deployUrl(), "main", ".", Interval.parse("300ms"), null),
                      null,
                      null)),
              Interval.parse("8s"));
      long worst = 0;
      long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
      String reason = null;
      while (System.nanoTime() < deadline && reason == null) {
        long t0 = System.nanoTime();
        assertThat(agent.api.get("/healthz").status()).isEqualTo(200);
        Map<String, Object> st = agent.api.status("vtrack");
        worst = Math.max(worst, (System.nanoTime() - t0) / 1_000_000);
        for (Map<String, Object> c :
            (List<Map<String, Object>>) st.getOrDefault("conditions", List.of())) {
          if ("Ready".equals(c.get("type")) && "SourceUnavailable".equals(c.get("reason"))) {
            reason = String.valueOf(c.get("message"));
          }
        }
      }
      assertThat(reason).as("Ready=False SourceUnavailable within the git timeout").isNotNull();
      assertThat(reason).contains("127.0.0.1:" + silent.port());
      // The API never waited for the remote: far below the 8 s the remote holds a fetch.
      assertThat(worst).as("slowest /healthz + status answer, ms").isLessThan(2_000);
    }
  }

  @Test
  void aFullDiskDuringTheBackupHoldsTheRolloutAndItGoesOnOnceThereIsRoom() throws Exception {
    Path mnt = tmp.resolve("small");
    Files.createDirectories(mnt);
    Process mount =
        new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", mnt.toString())
            .redirectErrorStream(true)
            .start();
    Assumptions.assumeTrue(
        mount.waitFor() == 0, "needs root to mount a small tmpfs for the state folder");
    try {
      agent =
          new InProcessAgent(
              mnt,
              List.of(
                  new AgentConfig.SourceConfig(
                      new AgentConfig.GitSourceConfig(
                          app.deployUrl(),
                          "main",
                          ".",
                          Interval.parse("300ms"),
                          mnt.resolve("webhook-secret").toString()),
                      null,
                      null)),
              null);
      app.deploy("v1");
      String v1 = commitOf("v1");
      awaitPhase("Healthy", v1);
      long pid = backendPid();
      // Leave about 8 MiB: less than the 16 MiB margin the backup asks for.
      Path ballast = mnt.resolve("ballast");
      long free = Files.getFileStore(mnt).getUsableSpace();
      try (var out = Files.newOutputStream(ballast)) {
        byte[] mb = new byte[1 << 20];
        for (long left = free - (8L << 20); left > 0; left -= mb.length) {
          out.write(mb, 0, (int) Math.min(mb.length, left));
        }
      }
      String v2 = app.goodUpgrade("2.0.0", "v2");
      app.deploy("v2");
      await()
          .atMost(LONG)
          .untilAsserted(
              () -> {
                Map<String, Object> st = status();
                assertThat(st.get("phase")).isEqualTo("BackingUp");
                assertThat(st.get("conditions").toString())
                    .contains("InsufficientDisk")
                    .contains("must be free");
              });
      assertThat(backendPid()).isEqualTo(pid);
      assertThat(runningVersion()).isEqualTo("1.0.0");
      Files.delete(ballast);
      awaitPhase("Healthy", v2);
      assertThat((List<Object>) status().getOrDefault("quarantinedCommits", List.of())).isEmpty();
    } finally {
      if (agent != null) {
        agent.close();
        agent = null;
      }
      new ProcessBuilder("umount", "-l", mnt.toString()).start().waitFor();
    }
  }
}
