package io.vtrack.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.vtrack.agent.runtime.ProcStat;
import io.vtrack.agent.source.WebhookSignature;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * End to end: real git repositories, the example app as real processes, a real SQLite database, the
 * agent's real HTTP API. Every failure is a real commit to the app repository.
 */
@SuppressWarnings("unchecked")
class AgentIT extends AgentTestBase {

  private long rows(Path db) throws Exception {
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db);
        ResultSet rs = c.createStatement().executeQuery("SELECT COUNT(*) FROM video_sources")) {
      return rs.getLong(1);
    }
  }

  private Path sharedDb() {
    return agent.stateDir.resolve("deployments/" + app.name + "/shared/backend/database/events.db");
  }

  private void webhook() throws Exception {
    byte[] body = "{\"ref\":\"refs/heads/main\"}".getBytes(StandardCharsets.UTF_8);
    Api.Answer a =
        agent.api.post(
            "/api/v1/hooks/git",
            new String(body, StandardCharsets.UTF_8),
            Map.of(
                "X-Hub-Signature-256",
                WebhookSignature.sign("it-secret", body),
                "X-GitHub-Event",
                "push"));
    assertThat(a.status()).isEqualTo(202);
  }

  @Test
  void firstDeployThenAGoodUpgrade() throws Exception {
    String v1 = app.deploy("v1").isEmpty() ? null : commitOf("v1");
    start("500ms");
    awaitPhase("Healthy", v1);
    assertThat(runningVersion()).isEqualTo("1.0.0");
    Path release = agent.stateDir.resolve("deployments/vtrack/releases/" + v1);
    assertThat(release.resolve("backend/app.py")).exists();
    assertThat(Files.isSymbolicLink(release.resolve("backend/database"))).isTrue();
    assertThat(rows(sharedDb())).isEqualTo(3);

    app.edit(
        "config.json",
        s ->
            s.replace(
                "\"cameras\": [",
                "\"cameras\": [\n    {\"id\": 9, \"name\": \"yard\", \"url\": \"rtsp://127.0.0.1:1/y\"},"));
    String v2 = app.goodUpgrade("2.0.0", "v2");
    app.deploy("v2");
    awaitPhase("Healthy", v2);
    assertThat(runningVersion()).isEqualTo("2.0.0");
    assertThat(rows(sharedDb())).isEqualTo(4);
    Map<String, Object> st = status();
    assertThat(st.get("lastHealthyCommit")).isEqualTo(v2);
    assertThat((List<Object>) st.get("verifiedCommits")).containsExactly(v2, v1);
    List<Map<String, Object>> history = agent.api.history("vtrack");
    assertThat(history).extracting(h -> h.get("result")).containsExactly("Succeeded", "Succeeded");
    Map<String, Object> last = history.get(0);
    assertThat((List<?>) last.get("steps")).isNotEmpty();
    assertThat((Map<String, Object>) last.get("backup")).containsKey("path");
    assertThat(((Map<?, ?>) last.get("trigger")).get("source").toString()).contains("vtrack.yaml");
    // Only the new revision runs: one backend, from the new release.
    assertThat(Files.readString(Path.of("/proc/" + backendPid() + "/cmdline"))).contains("app.py");
    assertThat(Path.of("/proc/" + backendPid() + "/cwd").toRealPath().toString()).contains(v2);
  }

  @Test
  void aCrashAtStartupIsRolledBackAndQuarantined() throws Exception {
    String v1 = deployHealthy("v1");
    long pidBefore = backendPid();

    String bad = app.crashAtStartup("v2");
    app.deploy("v2");
    awaitPhase("RolledBack", v1);
    Map<String, Object> st = status();
    assertThat((List<Object>) st.get("quarantinedCommits")).containsExactly(bad);
    Map<?, ?> last = (Map<?, ?>) st.get("lastRollout");
    assertThat(last.get("result")).isEqualTo("RolledBack");
    assertThat(last.get("reason")).isEqualTo("ServiceExited");
    // The message quotes the crashed process's own output, not v1's earlier lines in the log.
    assertThat(last.get("message").toString())
        .contains("boom: missing setting")
        .doesNotContain("listening on");
    assertThat(runningVersion()).isEqualTo("1.0.0");
    assertThat(backendPid()).isNotEqualTo(pidBefore);
    assertThat(Files.readString(agent.stateDir.resolve("deployments/vtrack/logs/backend.log")))
        .contains("boom");

    // The quarantined commit is not retried: further polls start no rollout.
    int rollouts = agent.api.history("vtrack").size();
    app.deploy("v2"); // no change to the document: same generation
    webhook();
    await()
        .during(Duration.ofSeconds(2))
        .atMost(Duration.ofSeconds(5))
        .until(
            () ->
                agent.api.history("vtrack").size() == rollouts
                    && "RolledBack".equals(status().get("phase")));

    // reconcile lifts the quarantine and tries again (and it fails again).
    Api.Answer a = agent.api.postAuthed("/api/v1/deployments/vtrack/reconcile", "");
    assertThat(a.status()).isEqualTo(202);
    assertThat(a.json()).containsKey("rolloutId");
    // Answered once the status says so: no longer RolledBack, unless the retry already ended.
    Map<String, Object> after = status();
    if ("RolledBack".equals(after.get("phase"))) {
      List<Map<String, Object>> h = agent.api.history("vtrack");
      assertThat(h).as("status %s", after).hasSize(rollouts + 1);
      assertThat(h.get(0).get("result")).as("status %s", after).isNotNull();
    }
    await()
        .atMost(LONG)
        .pollInterval(Duration.ofMillis(200))
        .untilAsserted(
            () -> {
              List<Map<String, Object>> h = agent.api.history("vtrack");
              assertThat(h).as("history; status %s", status()).hasSize(rollouts + 1);
              assertThat(h.get(0).get("result"))
                  .as("retried rollout %s; status %s", h.get(0), status())
                  .isEqualTo("RolledBack");
            });
  }

  @Test
  void aBrokenApiContractIsRolledBack() throws Exception {
    String v1 = deployHealthy("v1");
    app.breakContract("v2");
    app.deploy("v2");
    awaitPhase("RolledBack", v1);
    Map<?, ?> last = (Map<?, ?>) status().get("lastRollout");
    assertThat(last.get("message").toString()).contains("missing JSON keys [data]");
    Map<String, Object> sources =
        Api.appJson("http://127.0.0.1:" + app.backendPort + "/api/config/get-sources");
    assertThat(sources).containsKey("data");
  }

  @Test
  void aWorkerThatABrokenRevisionDetachedFromItsServiceIsStoppedWithIt() throws Exception {
    String v1 = deployHealthy("v1");
    app.detachesAWorker("detached-worker-of-v2");
    app.breakContract("v2");
    app.deploy("v2");
    awaitPhase("RolledBack", v1);
    assertThat(HostProcesses.withCommandLine("detached-worker-of-v2"))
        .as("the worker of the rolled back revision")
        .isEmpty();
    List<Map<String, Object>> steps =
        (List<Map<String, Object>>) agent.api.history("vtrack").get(0).get("steps");
    assertThat(steps)
        .anySatisfy(
            s -> {
              assertThat(s.get("name")).isEqualTo("rollback-stop");
              assertThat(s.get("output").toString())
                  .contains("backend: stopped 1 process it started out of its process group");
            });
  }

  @Test
  void aValidationFailureTouchesNothing() throws Exception {
    String v1 = deployHealthy("v1");
    long pid = backendPid();
    app.edit("backend/app.py", s -> s + "\ndef broken(:\n");
    String bad = app.commitApp("Syntax error", "v2");
    app.deploy("v2");
    await()
        .atMost(LONG)
        .untilAsserted(
            () -> assertThat((List<Object>) status().get("quarantinedCommits")).contains(bad));
    Map<?, ?> last = (Map<?, ?>) status().get("lastRollout");
    assertThat(last.get("result")).isEqualTo("Failed");
    assertThat(last.get("reason")).isEqualTo("ValidationFailed");
    assertThat(last.get("message").toString()).contains("SyntaxError");
    assertThat(status().get("phase")).isEqualTo("RolledBack");
    assertThat(backendPid()).isEqualTo(pid);
    assertThat(ProcStat.read(pid)).get().matches(ProcStat::alive);
    assertThat(runningVersion()).isEqualTo("1.0.0");
    List<Map<String, Object>> steps =
        (List<Map<String, Object>>) agent.api.history("vtrack").get(0).get("steps");
    assertThat(steps)
        .extracting(s -> s.get("name"))
        .containsExactly("release", "validate:backend-syntax");
    assertThat(steps.get(1).get("output").toString()).contains("SyntaxError");
  }

  @Test
  void aFolderOfUploadsInBackupFilesIsRestoredWithTheDatabase() throws Exception {
    app.backupFiles = "    files: [backend/database/uploads/]";
    String v1 = deployHealthy("v1");
    Path uploads = sharedDb().resolveSibling("uploads");
    Files.createDirectories(uploads.resolve("2026"));
    Files.writeString(uploads.resolve("2026/photo.jpg"), "a user's photo");
    // v2's migration deletes rows and the users' uploads.
    app.edit(
        "backend/app.py",
        s ->
            s.replace(
                "def migrate():\n",
                "def migrate():\n    import shutil\n    shutil.rmtree(os.path.join(os.path.dirname("
                    + "DB_PATH), 'uploads'), ignore_errors=True)\n"));
    app.deleteRowsInMigration("v2");
    app.deploy("v2");
    awaitPhase("RolledBack", v1);
    assertThat(rows(sharedDb())).isEqualTo(3);
    assertThat(uploads.resolve("2026/photo.jpg")).hasContent("a user's photo");
    long id = ((Number) ((Map<?, ?>) status().get("lastRollout")).get("id")).longValue();
    assertThat(
            agent.stateDir.resolve(
                "deployments/vtrack/backups/" + id + "/failed/backend/database/uploads"))
        .as("the uploads folder as the failure left it: emptied")
        .doesNotExist();
  }

  @Test
  void aMigrationThatDeletesRowsIsRolledBackWithTheDataRestored() throws Exception {
    String v1 = deployHealthy("v1");
    assertThat(rows(sharedDb())).isEqualTo(3);
    // Every endpoint still answers 200: only the data check can catch this.
    app.deleteRowsInMigration("v2");
    app.deploy("v2");
    awaitPhase("RolledBack", v1);
    Map<?, ?> last = (Map<?, ?>) status().get("lastRollout");
    assertThat(last.get("message").toString())
        .contains("sources-kept")
        .contains("decreased from 3");
    assertThat(rows(sharedDb())).isEqualTo(3);
    long id = ((Number) last.get("id")).longValue();
    Path failed =
        agent.stateDir.resolve(
            "deployments/vtrack/backups/" + id + "/failed/backend/database/events.db");
    assertThat(failed).exists();
    assertThat(rows(failed)).isEqualTo(1);
    Map<String, Object> rec = agent.api.history("vtrack").get(0);
    assertThat(rec.get("dataRestored")).isEqualTo(true);
    assertThat(((List<Map<String, Object>>) rec.get("steps")))
        .extracting(s -> s.get("name"))
        .contains("restore");
  }

  @Test
  void aServiceKilledByHandIsRestarted() throws Exception {
    String v1 = deployHealthy("v1");
    long pid = backendPid();
    new ProcessBuilder("kill", "-KILL", Long.toString(pid)).start().waitFor();
    awaitBackendOtherThan(pid);
    awaitPhase("Healthy", v1);
    assertThat(runningVersion()).isEqualTo("1.0.0");
    assertThat(agent.api.history("vtrack")).hasSize(1);
  }

  /**
   * A live service that hangs (stopped: SIGSTOP, a debugger) fails its checks: after
   * failureThreshold (2) rounds the deployment is Degraded and restarted. A stopped process acts on
   * its stop signal only once continued, so the agent continues it: with a stop timeout of an hour
   * here, a restart that waited it out would never end.
   */
  @Test
  void aHungServiceIsRestartedWithoutWaitingOutItsStopTimeout() throws Exception {
    app.runtime = app.runtime.replaceFirst("timeout: 5s", "timeout: 1h");
    String v1 = deployHealthy("v1");
    long pid = hangBackendUntilDegraded();
    assertThat(status().get("message").toString()).contains("self-heal in progress");
    awaitBackendOtherThan(pid);
    awaitPhase("Healthy", v1);
    assertThat(ProcStat.read(pid).map(ProcStat::alive).orElse(false)).as("the hung one").isFalse();
    assertThat(agent.api.history("vtrack")).as("a restart, not a rollout").hasSize(1);
  }

  @Test
  void aSelfHealSlowerThanItsBackoffIsNotRepeatedBeforeTheChecksLook() throws Exception {
    // The backend ignores its stop signal: a restart waits out the 3 s stop timeout, longer than
    // the first backoffs (about 1 s, then 2 s) between self-heal attempts.
    app.runtime =
        app.runtime.replaceFirst("signal: TERM, timeout: 5s", "signal: WINCH, timeout: 3s");
    String v1 = deployHealthy("v1");
    long pid = hangBackendUntilDegraded();
    awaitBackendOtherThan(pid);
    awaitPhase("Healthy", v1);
    // One restart, then the checks pass: before, each attempt ended past the next one's backoff
    // and that one began before any round had looked (three restarts, each 3 s of no backend).
    assertThat(selfHeals()).as("self-heal attempts").isEqualTo(1);
  }

  private int selfHeals() throws Exception {
    try (var c =
            java.sql.DriverManager.getConnection(
                "jdbc:sqlite:" + agent.stateDir.resolve("state.db"));
        var rs =
            c.createStatement()
                .executeQuery("SELECT COUNT(*) FROM events WHERE type = 'SelfHeal'")) {
      return rs.next() ? rs.getInt(1) : 0;
    }
  }

  /** Stops the backend (SIGSTOP) and waits until the deployment is Degraded; its pid. */
  private long hangBackendUntilDegraded() throws Exception {
    long pid = backendPid();
    new ProcessBuilder("kill", "-STOP", Long.toString(pid)).start().waitFor();
    await()
        .atMost(LONG)
        .pollInterval(Duration.ofMillis(50))
        .until(() -> "Degraded".equals(status().get("phase")));
    return pid;
  }

  /** Until a backend other than {@code pid} runs (it was restarted). */
  private void awaitBackendOtherThan(long pid) {
    awaitBackendOtherThan(agent.stateDir, app.name, pid, LONG);
  }

  @Test
  void theWebhookNeedsAValidSignature() throws Exception {
    app.deploy("v1");
    String v1 = commitOf("v1");
    start("1h");
    awaitPhase("Healthy", v1);
    String v2 = app.goodUpgrade("2.0.0", "v2");
    app.deploy("v2");
    byte[] body = "{\"ref\":\"refs/heads/main\"}".getBytes(StandardCharsets.UTF_8);
    String path = "/api/v1/hooks/git";
    assertThat(agent.api.post(path, new String(body, StandardCharsets.UTF_8), Map.of()).status())
        .isEqualTo(401);
    assertThat(
            agent
                .api
                .post(
                    path,
                    new String(body, StandardCharsets.UTF_8),
                    Map.of("X-Hub-Signature-256", WebhookSignature.sign("wrong", body)))
                .status())
        .isEqualTo(401);
    assertThat(
            agent
                .api
                .post(
                    path,
                    "{\"tampered\":1}",
                    Map.of("X-Hub-Signature-256", WebhookSignature.sign("it-secret", body)))
                .status())
        .isEqualTo(401);
    assertThat(
            agent
                .api
                .post(
                    path,
                    "{}",
                    Map.of(
                        "X-Hub-Signature-256",
                        WebhookSignature.sign("it-secret", "{}".getBytes(StandardCharsets.UTF_8)),
                        "X-GitHub-Event",
                        "ping"))
                .status())
        .isEqualTo(200);
    // Rejected calls changed nothing: the hourly poll has not run, v1 still runs.
    assertThat(status().get("currentCommit")).isEqualTo(v1);
    assertThat(status().get("desiredRevision")).isEqualTo("v1");
    // GitHub's default content type: the JSON form-encoded as payload=…, a push is a few KB.
    String payload =
        "{\"ref\":\"refs/heads/main\",\"commits\":[{\"message\":\""
            + "Deploy v2 & more ".repeat(200)
            + "\"}]}";
    byte[] form =
        ("payload=" + java.net.URLEncoder.encode(payload, StandardCharsets.UTF_8))
            .getBytes(StandardCharsets.UTF_8);
    assertThat(form.length).isGreaterThan(2048);
    Api.Answer a =
        agent.api.post(
            path,
            new String(form, StandardCharsets.UTF_8),
            Map.of(
                "Content-Type",
                "application/x-www-form-urlencoded",
                "X-Hub-Signature-256",
                WebhookSignature.sign("it-secret", form),
                "X-GitHub-Event",
                "push"));
    assertThat(a.status()).as(a.body()).isEqualTo(202);
    awaitPhase("Healthy", v2);
  }

  @Test
  void mutatingCallsNeedTheToken() throws Exception {
    String v1 = deployHealthy("v1");
    String p = "/api/v1/deployments/vtrack/reconcile";
    Api.Answer none = agent.api.post(p, "", Map.of());
    assertThat(none.status()).isEqualTo(401);
    assertThat(none.json()).containsEntry("error", "Unauthorized");
    assertThat(agent.api.post(p, "", Map.of("Authorization", "Bearer nope")).status())
        .isEqualTo(401);
    assertThat(agent.api.post("/api/v1/deployments/vtrack/rollback", "{}", Map.of()).status())
        .isEqualTo(401);
    Api.Answer ok = agent.api.postAuthed(p, "");
    assertThat(ok.status()).isEqualTo(200);
    assertThat(ok.json().get("message").toString()).contains("nothing to do");
    Api.Answer missing = agent.api.get("/api/v1/deployments/nope");
    assertThat(missing.status()).isEqualTo(404);
    assertThat(missing.json()).containsEntry("error", "NotFound");
    assertThat(agent.api.postAuthed("/api/v1/deployments/nope/reconcile", "").status())
        .isEqualTo(404);
    assertThat(agent.api.get("/api/v1/deployments").json()).containsKey("items");
    assertThat(agent.api.get("/healthz").status()).isEqualTo(200);
    assertThat(agent.api.get("/readyz").status()).isEqualTo(200);
    String metrics = agent.api.get("/metrics").body();
    assertThat(metrics)
        .contains("vtrack_rollouts_total")
        .contains("vtrack_check_results_total")
        .contains("vtrack_reconcile_queue_depth");
    assertThat(Files.getPosixFilePermissions(agent.stateDir.resolve("api-token")))
        .containsExactlyInAnyOrder(
            java.nio.file.attribute.PosixFilePermission.OWNER_READ,
            java.nio.file.attribute.PosixFilePermission.OWNER_WRITE);
  }

  @Test
  void aManualRollbackQuarantinesWhatRunsAndCanRestoreData() throws Exception {
    String v1 = deployHealthy("v1");
    String v2 = app.goodUpgrade("2.0.0", "v2");
    app.deploy("v2");
    awaitPhase("Healthy", v2);
    Api.Answer bad =
        agent.api.postAuthed("/api/v1/deployments/vtrack/rollback", "{\"to\": \"deadbeef\"}");
    assertThat(bad.status()).isEqualTo(400);
    Api.Answer a =
        agent.api.postAuthed("/api/v1/deployments/vtrack/rollback", "{\"restoreData\": true}");
    assertThat(a.status()).as(a.body()).isEqualTo(202);
    awaitPhase("RolledBack", v1);
    assertThat(runningVersion()).isEqualTo("1.0.0");
    assertThat((List<Object>) status().get("quarantinedCommits")).containsExactly(v2);
    Map<String, Object> rec = agent.api.history("vtrack").get(0);
    assertThat(rec.get("kind")).isEqualTo("rollback");
    assertThat(rec.get("result")).isEqualTo("Succeeded");
  }

  /**
   * A verified commit whose release was pruned (releases.keep) is prepared again when a rollback
   * goes back to it: exported, its prepare commands run, validated. Its checks need what prepare
   * made, as an app needs its installed dependencies.
   */
  @Test
  void aRollbackToACommitWhoseReleaseWasPrunedPreparesItAgain() throws Exception {
    app.validate =
        """
          prepare:
            - {name: build, command: [sh, -c, "echo built > prepared"], timeout: 30s}
          validate:
            - {name: built, command: [test, -f, prepared], timeout: 30s}
        """;
    app.extraChecks =
        """
              - name: prepared
                command: {command: [test, -f, prepared]}
        """;
    app.extraSpec = "  releases: {keep: 2}";
    String v1 = deployHealthy("v1");
    String v2 = app.goodUpgrade("2.0.0", "v2");
    app.deploy("v2");
    awaitPhase("Healthy", v2);
    String v3 = app.goodUpgrade("3.0.0", "v3");
    app.deploy("v3");
    awaitPhase("Healthy", v3);
    Path releases = agent.stateDir.resolve("deployments/vtrack/releases");
    await().atMost(LONG).until(() -> !Files.exists(releases.resolve(v1)));

    Api.Answer a =
        agent.api.postAuthed("/api/v1/deployments/vtrack/rollback", "{\"to\": \"" + v1 + "\"}");
    assertThat(a.status()).as(a.body()).isEqualTo(202);
    awaitPhase("RolledBack", v1);
    assertThat(runningVersion()).isEqualTo("1.0.0");
    assertThat(releases.resolve(v1).resolve("prepared")).hasContent("built");
    Map<String, Object> rec = agent.api.history("vtrack").get(0);
    assertThat(rec.get("kind")).isEqualTo("rollback");
    assertThat(rec.get("result")).isEqualTo("Succeeded");
    assertThat(String.valueOf(rec.get("steps")))
        .contains("prepare:build")
        .contains("validate:built");
  }

  @Test
  void removingTheDocumentStopsTheAppAndKeepsItsData() throws Exception {
    String v1 = deployHealthy("v1");
    long pid = backendPid();
    app.removeDocument();
    await().atMost(LONG).until(() -> agent.api.get("/api/v1/deployments/vtrack").status() == 404);
    await().atMost(LONG).until(() -> ProcStat.read(pid).map(s -> !s.alive()).orElse(true));
    assertThat(sharedDb()).exists();
  }

  /**
   * A document removed (services stopped) and added again on its quarantined revision starts
   * nothing: the quarantine holds (the same generation), and the status says that nothing runs and
   * what would start something, not the old rollout's result. The rollback it names works.
   */
  @Test
  @SuppressWarnings("unchecked")
  void aDocumentAddedAgainOnAQuarantinedRevisionSaysWhatWouldStartSomething() throws Exception {
    String v1 = deployHealthy("v1");
    String bad = app.crashAtStartup("v2");
    app.deploy("v2");
    awaitPhase("RolledBack", v1);
    long pid = backendPid();
    int rollouts = agent.api.history("vtrack").size();
    app.removeDocument();
    await().atMost(LONG).until(() -> agent.api.get("/api/v1/deployments/vtrack").status() == 404);
    await().atMost(LONG).until(() -> ProcStat.read(pid).map(s -> !s.alive()).orElse(true));

    app.deploy("v2");
    webhook();
    awaitPhase("Failed", null);
    String message = (String) status().get("message");
    assertThat(message)
        .startsWith("nothing runs, and commit " + bad.substring(0, 7) + " is quarantined (")
        .contains("vtrack rollback vtrack --to " + v1.substring(0, 7))
        .endsWith("tries " + bad.substring(0, 7) + " again");
    assertThat(agent.api.history("vtrack")).hasSize(rollouts);

    Api.Answer a =
        agent.api.postAuthed("/api/v1/deployments/vtrack/rollback", "{\"to\": \"" + v1 + "\"}");
    assertThat(a.status()).as(a.body()).isEqualTo(202);
    awaitPhase("RolledBack", v1);
    assertThat(runningVersion()).isEqualTo("1.0.0");
    assertThat((List<Object>) status().get("quarantinedCommits")).containsExactly(bad);
  }

  @Test
  void notificationsArePostedOnTransitionsAndRetried() throws Exception {
    io.vertx.core.Vertx rx = io.vertx.core.Vertx.vertx();
    try {
      List<Map<String, Object>> received = new java.util.concurrent.CopyOnWriteArrayList<>();
      java.util.concurrent.atomic.AtomicInteger calls =
          new java.util.concurrent.atomic.AtomicInteger();
      io.vertx.core.http.HttpServer server =
          rx.createHttpServer()
              .requestHandler(
                  req ->
                      req.body()
                          .onSuccess(
                              b -> {
                                // The receiver fails its first call, then recovers: the agent must
                                // retry.
                                if (calls.incrementAndGet() == 1) {
                                  req.response().setStatusCode(500).end();
                                  return;
                                }
                                received.add(Api.JSON.readValue(b.toString(), Map.class));
                                req.response().setStatusCode(204).end();
                              }))
              .listen(0, "127.0.0.1")
              .await();
      app.extraSpec =
          """
            notify:
              - url: http://127.0.0.1:%d/hooks/vtrack
                on: [Healthy, RolledBack]
          """
              .formatted(server.actualPort());
      app.deploy("v1");
      String v1 = commitOf("v1");
      start("300ms");
      awaitPhase("Healthy", v1);
      await()
          .atMost(LONG)
          .until(() -> received.stream().anyMatch(p -> "Healthy".equals(p.get("phase"))));
      assertThat(calls.get()).isGreaterThanOrEqualTo(2);
      app.edit(
          "backend/app.py",
          s -> s.replace("def main():\n", "def main():\n    raise SystemExit(2)\n"));
      String bad = app.commitApp("Crash", "v2");
      app.deploy("v2");
      awaitPhase("RolledBack", v1);
      await()
          .atMost(LONG)
          .until(() -> received.stream().anyMatch(p -> "RolledBack".equals(p.get("phase"))));
      Map<String, Object> rb =
          received.stream()
              .filter(p -> "RolledBack".equals(p.get("phase")))
              .findFirst()
              .orElseThrow();
      assertThat(rb)
          .containsEntry("deployment", "vtrack")
          .containsEntry("agent", "it-agent")
          .containsEntry("currentCommit", v1)
          .containsEntry("desiredCommit", bad);
      assertThat(rb.get("text").toString()).contains("RolledBack");
      // Each delivery's outcome is part of the rollout's record.
      await()
          .atMost(LONG)
          .untilAsserted(
              () ->
                  assertThat(
                          (List<Map<String, Object>>)
                              agent.api.history("vtrack").get(0).get("events"))
                      .anySatisfy(e -> assertThat(e.get("type")).isEqualTo("NotificationSent")));
      assertThat((Map<String, Object>) rb.get("rollout"))
          .containsEntry("reason", "ServiceExited")
          .containsEntry("to", bad);
    } finally {
      rx.close().await();
    }
  }

  @Test
  void branchesShortShasUnknownRevisionsAndReleasePruning() throws Exception {
    app.extraSpec = "  releases: {keep: 2}\n";
    String v1 = deployHealthy("main");
    // A branch revision follows its head: each new head rolls out.
    String v2 = app.goodUpgrade("2.0.0", null);
    awaitPhase("Healthy", v2);
    String v3 = app.goodUpgrade("3.0.0", null);
    awaitPhase("Healthy", v3);
    try (var releases = Files.list(agent.stateDir.resolve("deployments/vtrack/releases"))) {
      assertThat(releases.map(p -> p.getFileName().toString()).toList())
          .containsExactlyInAnyOrder(v3, v2);
    }
    // A short SHA resolves to its commit.
    app.deploy(v2.substring(0, 8));
    awaitPhase("Healthy", v2);
    assertThat(runningVersion()).isEqualTo("2.0.0");
    // An unknown revision leaves what runs untouched and says why.
    long pid = backendPid();
    app.deploy("v9-does-not-exist");
    await()
        .atMost(LONG)
        .untilAsserted(
            () -> {
              Map<String, Object> st = status();
              Map<String, Object> ready = ((List<Map<String, Object>>) st.get("conditions")).get(0);
              assertThat(ready)
                  .containsEntry("type", "Ready")
                  .containsEntry("status", "False")
                  .containsEntry("reason", "RevisionNotFound");
              assertThat(ready.get("message").toString()).contains("v9-does-not-exist");
              assertThat(st.get("phase")).isEqualTo("Healthy");
              // It resolves to nothing: not to the commit the revision before it named.
              assertThat(st).doesNotContainKey("desiredCommit");
              assertThat(st.get("message").toString())
                  .contains("'v9-does-not-exist' is no tag, branch or commit");
            });
    assertThat(backendPid()).isEqualTo(pid);
    assertThat(status().get("currentCommit")).isEqualTo(v2);
  }

  @Test
  void anUnreachableAppRepositoryLeavesWhatRunsAlone() throws Exception {
    String v1 = deployHealthy("v1");
    long pid = backendPid();
    Path moved = tmp.resolve("app-moved");
    Files.move(app.appDir, moved);
    try {
      await()
          .atMost(LONG)
          .untilAsserted(
              () -> {
                Map<String, Object> ready =
                    ((List<Map<String, Object>>) status().get("conditions")).get(0);
                assertThat(ready).containsEntry("reason", "SourceUnavailable");
              });
      assertThat(status().get("phase")).isEqualTo("Healthy");
      assertThat(backendPid()).isEqualTo(pid);
      assertThat(runningVersion()).isEqualTo("1.0.0");
    } finally {
      Files.move(moved, app.appDir);
    }
    await()
        .atMost(LONG)
        .untilAsserted(
            () -> {
              Map<String, Object> ready =
                  ((List<Map<String, Object>>) status().get("conditions")).get(0);
              assertThat(ready).containsEntry("status", "True").containsEntry("reason", "Verified");
            });
  }

  /**
   * A package registry that is away when a {@code prepare} step fetches (npm against a registry on
   * a port nothing listens on): the host's network, not the commit. The rollout waits in Preparing,
   * saying why, nothing is quarantined and v1 keeps running; once the registry answers, the same
   * rollout goes on. A registry that answers that a package does not exist is the commit's fault.
   */
  @Test
  void aPackageRegistryThatIsAwayDuringPrepareIsRetriedNotBlamed() throws Exception {
    String v1 = deployHealthy("v1");
    long pid = backendPid();
    int port = TestApp.freePort();
    String registry = "http://127.0.0.1:" + port + "/";
    app.extraSpec =
        """
          prepare:
            - {name: deps, command: [npm, ping, --registry, "%s", --fetch-retries=0], timeout: 60s}
        """
            .formatted(registry);
    String v2 = app.goodUpgrade("2.0.0", "v2");
    app.deploy("v2");
    awaitRetryingInPreparing(
        v2,
        "prepare 'deps' could not reach the network (exit code 1)",
        "ECONNREFUSED 127.0.0.1:" + port);
    assertThat((List<Object>) status().getOrDefault("quarantinedCommits", List.of())).isEmpty();
    assertThat(backendPid()).isEqualTo(pid);
    assertThat(runningVersion()).isEqualTo("1.0.0");

    // The registry answers: the same rollout goes on (a reconcile call skips the backoff).
    try (FileServer server = new FileServer(port, Map.of("/-/ping", "{}"))) {
      assertThat(agent.api.postAuthed("/api/v1/deployments/vtrack/reconcile", "").status())
          .isLessThan(300);
      awaitPhase("Healthy", v2);
      assertThat(runningVersion()).isEqualTo("2.0.0");

      // A registry that answers that the package does not exist: the commit's failure.
      app.extraSpec =
          """
            prepare:
              - {name: deps, command: [npm, view, vtrack-no-such-package, --registry, "%s", --fetch-retries=0], timeout: 60s}
          """
              .formatted(registry);
      app.edit("backend/app.py", s -> s + "\n# needs a package\n");
      String v3 = app.commitApp("A package the registry does not have", "v3");
      app.deploy("v3");
      await()
          .atMost(LONG)
          .untilAsserted(
              () ->
                  assertThat((List<Object>) status().get("quarantinedCommits"))
                      .containsExactly(v3));
      Map<?, ?> last = (Map<?, ?>) status().get("lastRollout");
      assertThat(last.get("reason")).isEqualTo("PrepareFailed");
      assertThat(last.get("message").toString()).contains("E404");
      assertThat(runningVersion()).isEqualTo("2.0.0");
    }
  }
}
