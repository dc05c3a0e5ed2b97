package io.vtrack.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.vertx.core.Vertx;
import io.vtrack.agent.Agent;
import io.vtrack.agent.cli.VtrackCli;
import io.vtrack.agent.config.AgentConfig;
import io.vtrack.agent.model.Interval;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A file source and a git source together: addressing by label, duplicate names, invalid documents,
 * deletionPolicy Retain, and the CLI against the running agent.
 */
@SuppressWarnings("unchecked")
class SourcesIT {
  @TempDir Path tmp;
  TestApp app;
  Vertx vertx;
  Agent agent;
  Api api;
  Path files;
  Path stateDir;
  AgentConfig config;

  @BeforeEach
  void setUp() throws Exception {
    app = new TestApp(tmp.resolve("repos"));
    files = tmp.resolve("files");
    Files.createDirectories(files);
    stateDir = tmp.resolve("state");
    app.deploy("v1");
    config =
        agentOn(
            stateDir,
            List.of(),
            gitSource(app.deployUrl(), "300ms"),
            new AgentConfig.SourceConfig(
                null,
                null,
                new AgentConfig.FileSourceConfig(files.toString(), Interval.parse("200ms"))));
    restartOn(config);
  }

  @AfterEach
  void tearDown() throws Exception {
    vertx.close().await();
    InProcessAgent.killApp(stateDir);
    app.close();
  }

  private Map<String, Object> status(String name) {
    return api.status(name);
  }

  private String commitOf(String tag) throws Exception {
    return app.app.getRepository().resolve(tag + "^{commit}").getName();
  }

  private Map<String, Object> condition(Map<String, Object> st, String type) {
    return ((List<Map<String, Object>>) st.get("conditions"))
        .stream().filter(c -> type.equals(c.get("type"))).findFirst().orElseThrow();
  }

  @Test
  void addressingDuplicatesAndInvalidDocuments() throws Exception {
    String v1 = app.app.getRepository().resolve("v1^{commit}").getName();
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> "Healthy".equals(status("vtrack").get("phase")));

    // Addressed to another agent: ignored entirely.
    Files.writeString(
        files.resolve("other.yaml"),
        app.document("v1")
            .replace("name: vtrack\n", "name: elsewhere\n  labels: {vtrack.io/agent: edge-02}\n"));
    // Addressed to this agent but invalid: Stalled, the message names the field and the line.
    String invalid =
        app.document("v1")
            .replace("name: vtrack\n", "name: broken\n  labels: {vtrack.io/agent: edge-01}\n")
            .replace("window: 1500ms", "window: 1500 ms");
    Files.writeString(files.resolve("broken.yaml"), invalid);
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> "Stalled".equals(status("broken").get("phase")));
    Map<String, Object> broken = status("broken");
    assertThat(condition(broken, "Stalled").get("reason")).isEqualTo("InvalidSpec");
    int line = 1 + List.of(invalid.split("\n")).indexOf("    window: 1500 ms");
    assertThat(broken.get("message").toString())
        .contains("spec.health.window (line " + line + ")")
        .contains("invalid duration");
    assertThat(api.get("/api/v1/deployments/elsewhere").status()).isEqualTo(404);

    // The same name from a second source: both documents are reported, nothing runs differently.
    long pidBefore = backendPid();
    Files.writeString(files.resolve("dup.yaml"), app.document("v1"));
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> "Stalled".equals(status("vtrack").get("phase")));
    assertThat(condition(status("vtrack"), "Stalled").get("reason")).isEqualTo("DuplicateName");
    assertThat(backendPid()).isEqualTo(pidBefore);
    Files.delete(files.resolve("dup.yaml"));
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> "Healthy".equals(status("vtrack").get("phase")));
    assertThat(status("vtrack").get("currentCommit")).isEqualTo(v1);
    assertThat(backendPid()).isEqualTo(pidBefore);

    // A source path that names no folder of the commit (a typo): Stalled naming it, nothing
    // exported, the commit not blamed, what runs untouched; put right, the rollout goes on.
    String v2 = app.goodUpgrade("2.0.0", "v2");
    Map<String, Object> typo = stalledOnPath("v2", "backnd/");
    assertThat(typo.get("message").toString())
        .contains("spec.source.path: 'backnd/' names no folder in commit " + v2.substring(0, 7));
    assertThat(typo.getOrDefault("quarantinedCommits", List.of())).asList().isEmpty();
    assertThat(stateDir.resolve("deployments/vtrack/releases/" + v2)).doesNotExist();
    assertThat(backendPid()).isEqualTo(pidBefore);
    app.deploy("v2");
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                "Healthy".equals(status("vtrack").get("phase"))
                    && v2.equals(status("vtrack").get("currentCommit")));
  }

  @Test
  void aSourcePathPutRightDeploysTheCommitThatFailedWithTheWrongOne() throws Exception {
    String v1 = commitOf("v1");
    await().atMost(Duration.ofSeconds(60)).until(() -> v1.equals(healthyCommit()));

    // A path that names a folder, but not the app's: the rollout fails and the commit is
    // quarantined, as the document asked for something that cannot work.
    String v2 = app.goodUpgrade("2.0.0", "v2");
    app.commitDocument(app.name + ".yaml", documentWithPath("v2", "backend/"));
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                status("vtrack").getOrDefault("quarantinedCommits", List.of()).equals(List.of(v2)));
    Path release = stateDir.resolve("deployments/vtrack/releases/" + v2);
    assertThat(release.resolve("app.py")).exists();

    // Put right, the same commit is exported again from the right folder, and deploys.
    app.deploy("v2");
    await().atMost(Duration.ofSeconds(90)).until(() -> v2.equals(healthyCommit()));
    assertThat(release.resolve("backend/app.py")).exists();
    assertThat(release.resolve("app.py")).doesNotExist();
    long pid = backendPid();

    // Another folder for the commit that runs: its release cannot be exported again under it.
    // Stalled naming the path, nothing stopped, the commit not blamed; put back, Healthy. Asked
    // beforehand (suspended), the plan says so.
    assertThat(api.postAuthed("/api/v1/deployments/vtrack/suspend", "").status()).isEqualTo(200);
    app.commitDocument(app.name + ".yaml", documentWithPath("v2", "frontend/"));
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                api.getAuthed("/api/v1/deployments/vtrack/plan")
                    .body()
                    .contains("stop, Stalled (InvalidSpec): the release "));
    assertThat(api.postAuthed("/api/v1/deployments/vtrack/resume", "").status()).isEqualTo(200);
    Map<String, Object> moved = stalledOnPath("v2", "frontend/");
    assertThat(moved.get("message").toString())
        .contains(
            "spec.source.path: 'frontend/' is not the folder commit "
                + v2.substring(0, 7)
                + " runs from ('.')");
    assertThat(moved.getOrDefault("quarantinedCommits", List.of())).asList().isEmpty();
    assertThat(release.resolve("backend/app.py")).exists();
    assertThat(backendPid()).isEqualTo(pid);
    app.deploy("v2");
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> "Healthy".equals(status("vtrack").get("phase")));
    assertThat(status("vtrack").get("currentCommit")).isEqualTo(v2);
    assertThat(backendPid()).isEqualTo(pid);
  }

  /** Commits the document of {@code revision} with {@code path}: Stalled, InvalidSpec. */
  private Map<String, Object> stalledOnPath(String revision, String path) throws Exception {
    app.commitDocument(app.name + ".yaml", documentWithPath(revision, path));
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> "Stalled".equals(status("vtrack").get("phase")));
    Map<String, Object> st = status("vtrack");
    assertThat(condition(st, "Stalled").get("reason")).isEqualTo("InvalidSpec");
    return st;
  }

  private String documentWithPath(String revision, String path) {
    return app.document(revision)
        .replace(
            "revision: " + revision + "\n", "revision: " + revision + "\n    path: " + path + "\n");
  }

  private String healthyCommit() {
    Map<String, Object> st = status("vtrack");
    return "Healthy".equals(st.get("phase")) ? (String) st.get("currentCommit") : null;
  }

  @Test
  void retainLeavesTheAppRunningWhenTheDocumentGoes() throws Exception {
    app.extraSpec = "  deletionPolicy: Retain\n";
    app.deploy("v1");
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> "Healthy".equals(status("vtrack").get("phase")));
    List<Long> groups = processGroups();
    try {
      app.removeDocument();
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> api.get("/api/v1/deployments/vtrack").status() == 404);
      for (long pgid : groups) {
        assertThat(io.vtrack.agent.runtime.ProcStat.read(pgid))
            .get()
            .matches(io.vtrack.agent.runtime.ProcStat::alive);
      }
    } finally {
      // Forgotten by the agent, so the test cleans up what Retain left running.
      for (long pgid : groups) {
        new ProcessBuilder("kill", "-KILL", "--", "-" + pgid).start().waitFor();
      }
    }
  }

  @Test
  void theCliTalksToTheApiWithItsExitCodes() throws Exception {
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> "Healthy".equals(status("vtrack").get("phase")));
    String server = "--server=http://127.0.0.1:" + agent.port();
    String tokenFile = "--token-file=" + stateDir.resolve("api-token");
    Run status = cli("status", "vtrack", server);
    assertThat(status.code).isZero();
    assertThat(status.out).contains("Phase:         Healthy").contains("sources");
    Run json = cli("status", "vtrack", "-o", "json", server);
    assertThat(json.code).isZero();
    // The spec (commands, env values) is shown to token holders only.
    assertThat(Api.JSON.readValue(json.out, Map.class))
        .containsKeys("name", "source", "status")
        .doesNotContainKey("spec");
    Run withToken = cli("status", "vtrack", "-o", "json", server, tokenFile);
    assertThat(Api.JSON.readValue(withToken.out, Map.class)).containsKey("spec");
    assertThat(cli("status", server).out).contains("NAME").contains("vtrack").contains("Healthy");
    assertThat(cli("status", "nope", server).code).isEqualTo(4);
    assertThat(cli("history", "vtrack", server).out).contains("Succeeded");
    assertThat(cli("history", "vtrack", "--id", "1", server).out)
        .contains("Steps:")
        .contains("validate:backend-syntax");
    assertThat(cli("reconcile", "vtrack", server, tokenFile).out).contains("nothing to do");
    assertThat(cli("reconcile", "vtrack", server, "--token-file=" + tmp.resolve("missing")).code)
        .isEqualTo(1);
    assertThat(cli("rollback", "vtrack", server, tokenFile).code)
        .as("no earlier verified commit")
        .isEqualTo(1);
    assertThat(cli("status", "--server=http://127.0.0.1:" + TestApp.freePort()).code).isEqualTo(3);
    assertThat(cli("status", "--bogus").code).isEqualTo(2);
    Path bad = tmp.resolve("bad.yaml");
    Files.writeString(bad, app.document("v1").replace("interval: 200ms", "interval: soon"));
    Run validate = cli("validate", bad.toString());
    assertThat(validate.code).isEqualTo(1);
    assertThat(validate.err).contains("spec.health.interval").contains("invalid duration");
    Path good = tmp.resolve("good.yaml");
    Files.writeString(good, app.document("v1"));
    assertThat(cli("validate", good.toString()).code).isZero();
  }

  record Run(int code, String out, String err) {}

  private static Run cli(String... args) {
    PrintStream oldOut = System.out;
    PrintStream oldErr = System.err;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    try {
      picocli.CommandLine cl = VtrackCli.commandLine();
      cl.setOut(new java.io.PrintWriter(out, true, StandardCharsets.UTF_8));
      cl.setErr(new java.io.PrintWriter(err, true, StandardCharsets.UTF_8));
      int code = cl.execute(args);
      return new Run(
          code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
  }

  /** The process groups of the deployment's two services, as the store records them. */
  private List<Long> processGroups() throws Exception {
    try (io.vtrack.agent.store.StateStore s = io.vtrack.agent.store.StateStore.open(stateDir)) {
      List<Long> groups =
          s.processes().of("vtrack").stream()
              .map(io.vtrack.agent.store.ProcessRepository.ProcessRow::pgid)
              .toList();
      assertThat(groups).hasSize(2);
      return groups;
    }
  }

  private long backendPid() throws Exception {
    return AgentTestBase.recordedBackendPid(stateDir, "vtrack").orElseThrow();
  }

  /**
   * An agent restarted on an agent.yaml that lost a source (a hand, a file cut short), or whose
   * source does not answer, must not take the deployments of that source for removed: a git source
   * fetched before serves the documents of its last fetch; otherwise Stalled, naming why, the app
   * left running; the source back, the same processes are adopted.
   */
  @Test
  void aSourceMissingAtStartupRemovesNothing() throws Exception {
    String v1 = commitOf("v1");
    awaitHealthyAt(api, "vtrack", v1);
    long pid = backendPid();
    vertx.close().await();

    // agent.yaml without the git source.
    restartOn(fileSourceOnly(stateDir, files, List.of()));
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> "Stalled".equals(status("vtrack").get("phase")));
    assertThat(condition(status("vtrack"), "Stalled").get("reason")).isEqualTo("InvalidSpec");
    assertThat(status("vtrack").get("message").toString())
        .contains("is not in agent.yaml any more")
        .contains(app.deployUrl().replaceFirst("/$", ""));
    assertThat(io.vtrack.agent.runtime.ProcStat.read(pid))
        .get()
        .matches(io.vtrack.agent.runtime.ProcStat::alive);
    assertThat(backendPid()).isEqualTo(pid);
    vertx.close().await();

    // The git source back in agent.yaml, its repository away: the documents of its last fetch
    // are used, and the deployment is managed on them (a service that dies comes back).
    Path away = app.deployDir.resolveSibling("deploy-away");
    Files.move(app.deployDir, away);
    try {
      restartOn(config);
      awaitHealthyAt(api, "vtrack", v1);
      assertThat(backendPid()).isEqualTo(pid);
      new ProcessBuilder("kill", "-KILL", Long.toString(pid)).start().waitFor();
      AgentTestBase.awaitBackendOtherThan(stateDir, "vtrack", pid, Duration.ofSeconds(60));
      await()
          .atMost(Duration.ofSeconds(60))
          .until(() -> "Healthy".equals(status("vtrack").get("phase")));
      long healed = backendPid();
      vertx.close().await();

      // Never fetched either (no mirror on disk): it has not answered, and nothing is removed.
      io.vtrack.agent.release.ReleaseBuilder.deleteTree(stateDir.resolve("repos"));
      restartOn(config);
      await()
          .atMost(Duration.ofSeconds(60))
          .until(() -> "Stalled".equals(status("vtrack").get("phase")));
      assertThat(status("vtrack").get("message").toString()).contains("has not answered");
      assertThat(backendPid()).isEqualTo(healed);
      Files.move(away, app.deployDir);
      // It answers at its next poll: the deployment is managed again, on the same processes.
      awaitHealthyAt(api, "vtrack", v1);
      assertThat(backendPid()).isEqualTo(healed);
      assertThat(io.vtrack.agent.runtime.ProcStat.read(healed))
          .get()
          .matches(io.vtrack.agent.runtime.ProcStat::alive);
    } finally {
      if (Files.exists(away)) {
        Files.move(away, app.deployDir);
      }
    }
  }

  /**
   * A document removed from its source: the API shows the deployment (Reconciling, reason Deleting)
   * until its deletion policy has run, so that a 404 means the app has stopped.
   */
  @Test
  void aRemovedDeploymentIsShownUntilItsServicesHaveStopped() throws Exception {
    // Services that ignore their stop signal: each stop takes its 3 s timeout, then KILL.
    app.runtime =
        app.runtime.replace(
            "stop: {signal: TERM, timeout: 5s}", "stop: {signal: WINCH, timeout: 3s}");
    awaitRolledOut(() -> app.deploy("v1"));
    List<Long> groups = processGroups();
    app.removeDocument();
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(50))
        .until(
            () -> {
              Map<String, Object> st = status("vtrack");
              return !st.isEmpty() && "Deleting".equals(condition(st, "Reconciling").get("reason"));
            });
    // Status may have gone by now (the deletion ran on); read from the last answer instead.
    Map<String, Object> deleting = status("vtrack");
    if (!deleting.isEmpty()) {
      assertThat(condition(deleting, "Reconciling").get("message").toString())
          .contains("deletionPolicy Stop");
    }
    awaitGoneWithNothingAlive(groups);
  }

  @Test
  void aDeploymentRemovedWhileTheAgentWasStoppedIsShownUntilItsServicesHaveStopped()
      throws Exception {
    app.runtime =
        app.runtime.replace(
            "stop: {signal: TERM, timeout: 5s}", "stop: {signal: WINCH, timeout: 3s}");
    awaitRolledOut(() -> app.deploy("v1"));
    List<Long> groups = processGroups();
    vertx.close().await();
    app.removeDocument();
    restartOn(config);
    // The source answered without it: its deletion policy runs at startup, shown meanwhile.
    Map<String, Object> deleting = status("vtrack");
    assertThat(deleting).as("the deployment right after the restart").isNotEmpty();
    assertThat(deleting.get("phase")).isEqualTo("Healthy");
    assertThat(condition(deleting, "Reconciling"))
        .containsEntry("status", "True")
        .containsEntry("reason", "Deleting");
    assertThat(condition(deleting, "Reconciling").get("message").toString())
        .contains("left its source while the agent was stopped");
    awaitGoneWithNothingAlive(groups);
  }

  @Test
  void aSteadyDeploymentsStatusIsStoredOnChangesNotAtEveryPoll() throws Exception {
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> "Healthy".equals(status("vtrack").get("phase")));
    // A trigger in the store counts the agent's status writes from here on.
    String db = "jdbc:sqlite:" + io.vtrack.agent.store.StateStore.file(stateDir);
    try (java.sql.Connection c = java.sql.DriverManager.getConnection(db);
        java.sql.Statement st = c.createStatement()) {
      st.execute("PRAGMA busy_timeout=5000");
      st.execute("CREATE TABLE status_writes(n INTEGER NOT NULL)");
      st.execute("INSERT INTO status_writes VALUES (0)");
      st.execute(
          "CREATE TRIGGER count_status_writes AFTER UPDATE OF status_json ON deployments"
              + " BEGIN UPDATE status_writes SET n = n + 1; END");
    }
    // Three check rounds (an interval apart) while the git source polls every 300 ms: each poll
    // reads the deployment again, and nothing it says changes.
    java.util.Set<Object> rounds = new java.util.HashSet<>();
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(100))
        .until(
            () -> {
              List<Map<String, Object>> checks =
                  (List<Map<String, Object>>) status("vtrack").get("checks");
              rounds.add(checks.get(0).get("lastRun"));
              return rounds.size() >= 4;
            });
    assertThat(status("vtrack").get("phase")).isEqualTo("Healthy");
    assertThat(statusWrites(db)).as("status writes while nothing changed").isZero();

    // A change is stored: the backend killed, healed, Healthy again; the store says so too.
    new ProcessBuilder("kill", "-KILL", String.valueOf(backendPid())).start().waitFor();
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> statusWrites(db) > 0 && "Healthy".equals(storedPhase(db)));
    assertThat(status("vtrack").get("phase")).isEqualTo("Healthy");
  }

  private static long statusWrites(String db) throws Exception {
    try (java.sql.Connection c = java.sql.DriverManager.getConnection(db);
        java.sql.Statement st = c.createStatement();
        java.sql.ResultSet rs = st.executeQuery("SELECT n FROM status_writes")) {
      return rs.next() ? rs.getLong(1) : -1;
    }
  }

  private static String storedPhase(String db) throws Exception {
    try (java.sql.Connection c = java.sql.DriverManager.getConnection(db);
        java.sql.Statement st = c.createStatement();
        java.sql.ResultSet rs =
            st.executeQuery(
                "SELECT json_extract(status_json, '$.phase') FROM deployments"
                    + " WHERE name = 'vtrack'")) {
      return rs.next() ? rs.getString(1) : null;
    }
  }

  /**
   * Waits for the API's first 404 for the deployment: no process of {@code groups} is alive then.
   */
  private void awaitGoneWithNothingAlive(List<Long> groups) throws Exception {
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(50))
        .until(() -> api.get("/api/v1/deployments/vtrack").status() == 404);
    for (long pgid : groups) {
      assertThat(io.vtrack.agent.runtime.ProcStat.read(pgid).filter(p -> p.alive()))
          .as("process group %d once the API says the deployment is gone", pgid)
          .isEmpty();
    }
  }

  /** Runs {@code change} (a new spec), then waits until a rollout after it ended Healthy. */
  private void awaitRolledOut(ThrowingRunnable change) throws Exception {
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> "Healthy".equals(status("vtrack").get("phase")));
    long before =
        ((Number) ((Map<?, ?>) status("vtrack").get("lastRollout")).get("id")).longValue();
    change.run();
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () -> {
              Map<String, Object> st = status("vtrack");
              Map<?, ?> last = (Map<?, ?>) st.get("lastRollout");
              return "Healthy".equals(st.get("phase"))
                  && last != null
                  && ((Number) last.get("id")).longValue() > before;
            });
  }

  interface ThrowingRunnable {
    void run() throws Exception;
  }

  /** Replaces the agent of this test with one on {@code cfg} (the same state folder). */
  private void restartOn(AgentConfig cfg) throws Exception {
    vertx = Vertx.vertx();
    agent = new Agent(cfg, tmp);
    vertx.deployVerticle(agent).await();
    api = new Api(agent.port(), agent.token());
  }

  @Test
  void aFileDocumentNamingANewRevisionFetchesTheAppRepositoryAtOnce() throws Exception {
    Path files2 = Files.createDirectories(tmp.resolve("files2"));
    Path state2 = tmp.resolve("state-files2");
    AgentConfig cfg = fileSourceOnly(state2, files2, List.of());
    int backend = TestApp.freePort();
    int frontend = TestApp.freePort();
    Path doc = files2.resolve("filed.yaml");
    Files.writeString(doc, app.document("filed", "v1", backend, frontend, ""));
    withAgent(
        cfg,
        api2 -> {
          await()
              .atMost(Duration.ofSeconds(60))
              .until(() -> "Healthy".equals(api2.status("filed").get("phase")));

          // v2 is tagged after the agent fetched the app repository: the document naming it makes
          // the agent fetch it then, not at the next periodic refresh of app repositories.
          String v2 = app.goodUpgrade("2.0.0", "v2");
          Files.writeString(doc, app.document("filed", "v2", backend, frontend, ""));
          awaitHealthyAt(api2, "filed", v2);
          Map<?, ?> trigger = (Map<?, ?>) api2.history("filed").get(0).get("trigger");
          assertThat(trigger.get("by").toString())
              .as("trigger %s", trigger)
              .startsWith("file-change");
        });
  }

  /**
   * A document from a file source that follows a branch: a push to the app repository rolls out at
   * the source's next look (its interval), as with a git source; it waited for a refresh of app
   * repositories every 30 s.
   */
  @Test
  void aPushToTheBranchAFileSourcedDocumentFollowsRollsOutAtTheSourcesNextLook() throws Exception {
    int backend = TestApp.freePort();
    int frontend = TestApp.freePort();
    Path files2 = Files.createDirectories(tmp.resolve("files2"));
    Files.writeString(
        files2.resolve("filed.yaml"), app.document("filed", "main", backend, frontend, ""));
    withAgent(
        fileSourceOnly(tmp.resolve("state-files2"), files2, List.of()),
        api2 -> {
          awaitHealthyAt(api2, "filed", commitOf("v1"));
          String h2 = app.goodUpgrade("2.0.0", null);
          awaitHealthyAt(api2, "filed", h2);
          Map<?, ?> trigger = (Map<?, ?>) api2.history("filed").get(0).get("trigger");
          assertThat(trigger.get("by").toString())
              .as("trigger %s", trigger)
              .isEqualTo("poll file[0]:" + files2.toAbsolutePath().normalize());
        });
  }

  /**
   * An app repository on a remote that never answers (a fetch from it ends only at {@code
   * gitTimeout}) holds up neither the other deployments of its source nor an edit of their
   * documents: each waited for that fetch, at startup and at every look.
   */
  @Test
  void anAppRepositoryThatNeverAnswersHoldsUpNoOtherDeploymentOfItsSource() throws Exception {
    try (SilentServer silent = new SilentServer()) {
      Path files2 = Files.createDirectories(tmp.resolve("files2"));
      Files.writeString(
          files2.resolve("a-stuck.yaml"),
          app.document("stuck", "v1", TestApp.freePort(), TestApp.freePort(), "")
              .replace(app.appDir.toUri().toString(), silent.repoUrl()));
      int backend = TestApp.freePort();
      int frontend = TestApp.freePort();
      Path filed = files2.resolve("filed.yaml");
      Files.writeString(filed, app.document("filed", "v1", backend, frontend, ""));
      AgentConfig cfg =
          new AgentConfig(
              "edge-01",
              tmp.resolve("state-files2").toString(),
              "127.0.0.1:0",
              null,
              List.of(),
              List.of(
                  new AgentConfig.SourceConfig(
                      null,
                      null,
                      new AgentConfig.FileSourceConfig(
                          files2.toString(), Interval.parse("200ms")))),
              null,
              Interval.parse("90s"),
              null);
      withAgent(
          cfg,
          api2 -> {
            awaitHealthyAt(api2, "filed", commitOf("v1"));
            String v2 = app.goodUpgrade("2.0.0", "v2");
            Files.writeString(filed, app.document("filed", "v2", backend, frontend, ""));
            awaitHealthyAt(api2, "filed", v2);
            assertThat(api2.status("stuck").get("phase")).isNotEqualTo("Healthy");
          });
    }
  }

  @Test
  void reconcileWorksFromTheRevisionAsItIsNowNotAsTheLastPollSawIt() throws Exception {
    int backend = TestApp.freePort();
    int frontend = TestApp.freePort();
    String h1 = commitOf("v1");

    // A document from a file source looked at once an hour: the app repository is fetched by
    // reconcile, not at the next look.
    Path files2 = Files.createDirectories(tmp.resolve("files2"));
    Files.writeString(
        files2.resolve("filed.yaml"), app.document("filed", "main", backend, frontend, ""));
    withAgent(
        fileSourceOnly(tmp.resolve("state-files2"), files2, List.of(), "1h"),
        api2 -> {
          awaitHealthyAt(api2, "filed", h1);
          String h2 = app.goodUpgrade("2.0.0", null);
          reconcileStarts(api2, "filed", h2);
          awaitHealthyAt(api2, "filed", h2);
        });

    // A document from a git source polled once an hour: reconcile reads it, and fetches the app.
    Path docs = tmp.resolve("docs");
    try (org.eclipse.jgit.api.Git git =
        org.eclipse.jgit.api.Git.init()
            .setDirectory(docs.toFile())
            .setInitialBranch("main")
            .call()) {
      Runnable commit =
          () -> {
            try {
              git.add().addFilepattern(".").call();
              git.commit().setMessage("doc").setSign(false).call();
            } catch (Exception e) {
              throw new IllegalStateException(e);
            }
          };
      Files.writeString(
          docs.resolve("polled.yaml"), app.document("polled", "main", backend, frontend, ""));
      commit.run();
      AgentConfig hourly =
          agentOn(tmp.resolve("state-hourly"), List.of(), gitSource(docs.toUri().toString(), "1h"));
      withAgent(
          hourly,
          api3 -> {
            String h2 = commitOf("HEAD");
            awaitHealthyAt(api3, "polled", h2);
            String h3 = app.goodUpgrade("3.0.0", null);
            reconcileStarts(api3, "polled", h3);
            awaitHealthyAt(api3, "polled", h3);
            Files.writeString(
                docs.resolve("polled.yaml"), app.document("polled", "v1", backend, frontend, ""));
            commit.run();
            reconcileStarts(api3, "polled", h1);
            awaitHealthyAt(api3, "polled", h1);
          });
    }
  }

  /**
   * Reconcile answers with a rollout to {@code commit}: the one it started, or the one the source
   * it read started just before (both are the revision as it is now).
   */
  private static void reconcileStarts(Api api, String name, String commit) throws Exception {
    Api.Answer a = api.postAuthed("/api/v1/deployments/" + name + "/reconcile", "");
    assertThat(a.status()).as(a.body()).isEqualTo(202);
    Object id = a.json().get("rolloutId");
    Map<String, Object> rollout =
        api.history(name).stream().filter(r -> id.equals(r.get("id"))).findFirst().orElseThrow();
    assertThat(rollout.get("to")).as(a.body()).isEqualTo(commit);
  }

  @Test
  void aDocumentWithoutRepoUrlDeploysFromTheRepositoryThatHoldsIt() throws Exception {
    // The document lives in the app repository itself, next to the code it deploys.
    int backend = TestApp.freePort();
    int frontend = TestApp.freePort();
    String withoutRepo =
        app.document("inrepo", "v2", backend, frontend, "")
            .lines()
            .filter(l -> !l.trim().startsWith("repoURL:"))
            .collect(java.util.stream.Collectors.joining("\n", "", "\n"));
    assertThat(withoutRepo).doesNotContain("repoURL");
    Files.createDirectories(app.appDir.resolve("deploy"));
    Files.writeString(app.appDir.resolve("deploy/inrepo.yaml"), withoutRepo);
    String v2 = app.goodUpgrade("2.0.0", "v2");
    Path state2 = tmp.resolve("state-inrepo");
    AgentConfig cfg =
        new AgentConfig(
            "edge-01",
            state2.toString(),
            "127.0.0.1:0",
            null,
            List.of(),
            List.of(
                new AgentConfig.SourceConfig(
                    new AgentConfig.GitSourceConfig(
                        app.appDir.toUri().toString(),
                        "main",
                        "deploy",
                        Interval.parse("300ms"),
                        null),
                    null,
                    null)));
    withAgent(
        cfg,
        api2 -> {
          awaitHealthyAt(api2, "inrepo", v2);
          Map<String, Object> d = api2.get("/api/v1/deployments/inrepo").json();
          assertThat(d.get("source").toString()).contains(app.appDir.toUri().toString());
        });
  }

  @Test
  void anSshRepositoryIsFetchedWithTheKeyFileAndItsHostKeyIsPinned() throws Exception {
    Path ssh = Files.createDirectories(tmp.resolve("ssh"));
    Path key = ssh.resolve("id_ed25519");
    Process keygen =
        new ProcessBuilder("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key.toString())
            .redirectErrorStream(true)
            .start();
    assertThat(keygen.waitFor()).isZero();
    Path authorized = Files.copy(ssh.resolve("id_ed25519.pub"), ssh.resolve("authorized_keys"));
    Path files2 = Files.createDirectories(tmp.resolve("files-ssh"));
    Path state2 = tmp.resolve("state-ssh");
    int backend = TestApp.freePort();
    int frontend = TestApp.freePort();
    Path doc = files2.resolve("viassh.yaml");
    GitSshServer server = new GitSshServer(0, ssh.resolve("host-key-1"), authorized);
    int port = server.port();
    String url = "ssh://git@127.0.0.1:" + port + app.appDir;
    java.util.function.Function<String, String> document =
        rev ->
            app.document("viassh", rev, backend, frontend, "")
                .replace(
                    "repoURL: " + app.appDir.toUri(),
                    "repoURL: " + url + "\n    credentials: {sshKeyFile: " + key + "}");
    Files.writeString(doc, document.apply("v1"));
    assertThat(Files.readString(doc)).contains("sshKeyFile");
    try {
      withAgent(
          fileSourceOnly(state2, files2, List.of()),
          api2 -> {
            awaitHealthyAt(api2, "viassh", commitOf("v1"));
            // The host was new: its key is now pinned in the agent's known_hosts.
            assertThat(Files.readString(state2.resolve("repos/known_hosts")))
                .contains("[127.0.0.1]:" + port);

            // The same address now answers with another host key: refused, what runs stays.
            server.close();
            try (GitSshServer impostor =
                new GitSshServer(port, ssh.resolve("host-key-2"), authorized)) {
              String v2 = app.goodUpgrade("2.0.0", "v2");
              Files.writeString(doc, document.apply("v2"));
              // (A fetch the old server's close cut short may say so first: the source is polled
              // every 200 ms.)
              await()
                  .atMost(Duration.ofSeconds(60))
                  .untilAsserted(
                      () -> {
                        Map<String, Object> ready = condition(api2.status("viassh"), "Ready");
                        assertThat(ready.get("reason")).isEqualTo("SourceUnavailable");
                        assertThat(ready.get("message").toString())
                            .contains("127.0.0.1")
                            .contains("host key is not the one recorded");
                      });
              Map<String, Object> st = api2.status("viassh");
              assertThat(st.get("currentCommit")).isEqualTo(commitOf("v1"));
              assertThat(st.get("currentCommit")).isNotEqualTo(v2);
            }
          });
    } finally {
      server.close();
    }
  }

  @Test
  void commandsOutsideAllowedCommandsStallTheDeployment() throws Exception {
    Path state2 = tmp.resolve("state2");
    AgentConfig cfg = fileSourceOnly(state2, files, List.of("python3", "/usr/bin/"));
    Files.writeString(
        files.resolve("restricted.yaml"),
        app.document("restricted", "v1", TestApp.freePort(), TestApp.freePort(), ""));
    Vertx v2 = Vertx.vertx();
    try {
      Agent restricted = new Agent(cfg, tmp);
      v2.deployVerticle(restricted).await();
      Api api2 = new Api(restricted.port(), restricted.token());
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> "Stalled".equals(api2.status("restricted").get("phase")));
      Map<String, Object> st = api2.status("restricted");
      Map<String, Object> stalled =
          ((List<Map<String, Object>>) st.get("conditions"))
              .stream().filter(c -> "Stalled".equals(c.get("type"))).findFirst().orElseThrow();
      assertThat(stalled).containsEntry("reason", "CommandNotAllowed");
      assertThat(stalled.get("message").toString())
          .contains("spec.runtime.services[1].command")
          .contains("'npm'");
      assertThat(Files.exists(state2.resolve("deployments/restricted/releases"))).isFalse();
    } finally {
      v2.close().await();
      Files.delete(files.resolve("restricted.yaml"));
    }
  }

  interface AgentBody {
    void run(Api api) throws Exception;
  }

  /** Runs {@code body} against a second agent on {@code cfg}, then stops it and its apps. */
  private void withAgent(AgentConfig cfg, AgentBody body) throws Exception {
    Vertx v = Vertx.vertx();
    try {
      Agent second = new Agent(cfg, tmp);
      v.deployVerticle(second).await();
      body.run(new Api(second.port(), second.token()));
    } finally {
      v.close().await();
      InProcessAgent.killApp(Path.of(cfg.stateDir()));
    }
  }

  private static void awaitHealthyAt(Api api, String name, String commit) {
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () -> {
              Map<String, Object> st = api.status(name);
              return "Healthy".equals(st.get("phase")) && commit.equals(st.get("currentCommit"));
            });
  }

  /** A second agent's configuration: one file source, polled every 200 ms. */
  private static AgentConfig fileSourceOnly(Path state, Path folder, List<String> allowed) {
    return fileSourceOnly(state, folder, allowed, "200ms");
  }

  private static AgentConfig fileSourceOnly(
      Path state, Path folder, List<String> allowed, String interval) {
    return agentOn(
        state,
        allowed,
        new AgentConfig.SourceConfig(
            null,
            null,
            new AgentConfig.FileSourceConfig(folder.toString(), Interval.parse(interval))));
  }

  /** The agent "edge-01" on {@code state}, its API on a free port, with {@code sources}. */
  private static AgentConfig agentOn(
      Path state, List<String> allowed, AgentConfig.SourceConfig... sources) {
    return new AgentConfig(
        "edge-01", state.toString(), "127.0.0.1:0", null, allowed, List.of(sources));
  }

  /** A git source reading the documents at the root of {@code url}'s main branch. */
  private static AgentConfig.SourceConfig gitSource(String url, String interval) {
    return new AgentConfig.SourceConfig(
        new AgentConfig.GitSourceConfig(url, "main", ".", Interval.parse(interval), null),
        null,
        null);
  }
}
