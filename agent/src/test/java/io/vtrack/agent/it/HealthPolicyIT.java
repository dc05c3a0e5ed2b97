package io.vtrack.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Every check kind against the example app really running: one revision that passes and one that
 * fails for the right reason, each failure a real commit.
 */
@SuppressWarnings("unchecked")
class HealthPolicyIT extends AgentTestBase {

  private Map<String, Object> check(String name) {
    return ((List<Map<String, Object>>) agent.api.status("vtrack").get("checks"))
        .stream().filter(c -> name.equals(c.get("name"))).findFirst().orElseThrow();
  }

  /**
   * Deploys v1 with the given checks, then {@code v2} made by {@code change}; returns v2's message.
   */
  private String rolloutFails(
      String checks, String file, java.util.function.UnaryOperator<String> change)
      throws Exception {
    app.extraChecks = checks;
    app.deploy("v1");
    start("300ms");
    awaitPhase("vtrack", "Healthy", commitOf("v1"));
    app.edit(file, change);
    app.commitApp("v2", "v2");
    app.deploy("v2");
    awaitPhase("vtrack", "RolledBack", commitOf("v1"));
    return ((Map<String, Object>) agent.api.status("vtrack").get("lastRollout"))
        .get("message")
        .toString();
  }

  @Test
  void aGoodRevisionPassesEveryKindAndRecordsBaselines() throws Exception {
    app.extraChecks =
        """
              - name: nested
                http:
                  url: http://127.0.0.1:%1$d/api/config/get-sources
                  json: {"data[0].id": 1, "data[1].name": lobby, success: true}
              - name: new-code-answers
                http: {url: "http://127.0.0.1:%1$d/api/health", json: {commit: "${commit}", version: "${file:VERSION}"}}
              - name: config-rows
                sqlite: {database: backend/database/events.db, query: "SELECT COUNT(*) FROM processing_config", min: 1, max: 1, equals: 1}
              - name: selected-json
                sqlite: {database: backend/database/events.db, query: "SELECT selected_cameras FROM processing_config", json: true}
              - name: integrity
                sqlite: {database: backend/database/events.db, integrityCheck: true}
              - name: no-errors
                log: {file: backend/logs/app.log, pattern: "(?i)\\\\berror\\\\b", max: 0}
              - name: no-errors-captured
                log: {service: backend, pattern: "Traceback", max: 0}
              - name: latency
                latency: {url: "http://127.0.0.1:%1$d/api/config/get-sources", samples: 20, maxIncrease: 50%%, minDelta: 100ms}
              - name: memory
                memory: {service: backend, maxIncrease: 50%%, max: 256Mi}
              - name: smoke
                command: {command: [python3, tests/smoke.py, "http://127.0.0.1:%1$d"], cwd: .}
                timeout: 10s
        """
            .formatted(app.backendPort);
    app.deploy("v1");
    start("300ms");
    awaitPhase("vtrack", "Healthy", commitOf("v1"));
    String v2 = app.goodUpgrade("2.0.0", "v2");
    app.deploy("v2");
    awaitPhase("vtrack", "Healthy", v2);
    for (String c :
        List.of(
            "nested",
            "new-code-answers",
            "config-rows",
            "selected-json",
            "integrity",
            "no-errors",
            "no-errors-captured",
            "latency",
            "memory",
            "smoke",
            "sources-kept")) {
      assertThat(check(c).get("status")).as("check %s: %s", c, check(c)).isEqualTo("Passing");
    }
    assertThat(check("latency").get("message").toString()).contains("p95");
    assertThat(check("smoke").get("message").toString()).contains("ok: 2 selected cameras");
    // The verification of v2 compared against v1's baselines, which the first deploy recorded.
    List<Map<String, Object>> rounds = roundsOfLastRollout();
    assertThat(rounds)
        .anySatisfy(
            r -> {
              assertThat(r.get("name")).isEqualTo("latency");
              assertThat(r.get("message").toString()).contains("vs baseline");
            });
    assertThat(rounds)
        .anySatisfy(
            r -> {
              assertThat(r.get("name")).isEqualTo("memory");
              assertThat(r.get("message").toString()).contains("vs baseline");
            });
    assertThat(rounds)
        .anySatisfy(
            r -> {
              assertThat(r.get("name")).isEqualTo("sources-kept");
              assertThat(r.get("message").toString()).contains("(was 3)");
            });
  }

  @Test
  void aSlowRevisionIsCaughtByLatency() throws Exception {
    String msg =
        rolloutFails(
            """
              - name: latency
                latency: {url: "http://127.0.0.1:%d/api/config/get-sources", samples: 5, maxIncrease: 50%%, minDelta: 100ms}
        """
                .formatted(app.backendPort),
            "backend/app.py",
            s ->
                s.replace(
                    "        elif path == \"/api/config/get-sources\":\n",
                    "        elif path == \"/api/config/get-sources\":\n            time.sleep(0.15)\n"));
    assertThat(msg).contains("latency: median").contains("vs baseline").contains("above +50%");
    // The rollback's round is judged on v1 itself, the commit others are compared with; the
    // record says so (it said "no baseline yet", as of a first deploy).
    List<Map<String, Object>> rounds = roundsOfLastRollout();
    assertThat(rounds)
        .anySatisfy(
            r -> {
              assertThat(r.get("name")).isEqualTo("latency");
              assertThat(r.get("stage").toString()).startsWith("RollingBack");
              assertThat(r.get("message").toString())
                  .contains(
                      "(no baseline: "
                          + commitOf("v1").substring(0, 7)
                          + " is the last healthy commit itself)");
            });
  }

  /** Every check result of every round of the last rollout (and of its rollback). */
  @SuppressWarnings("unchecked")
  private List<Map<String, Object>> roundsOfLastRollout() throws Exception {
    return (List<Map<String, Object>>) agent.api.history("vtrack").get(0).get("checks");
  }

  /** The rollout to {@code commit} once it ended. */
  private Map<String, Object> rolloutTo(String commit) {
    return await()
        .atMost(LONG)
        .pollInterval(java.time.Duration.ofMillis(100))
        .until(
            () -> (Map<String, Object>) agent.api.status("vtrack").get("lastRollout"),
            r -> r != null && commit.equals(r.get("to")) && r.get("result") != null);
  }

  @Test
  void aGoodRevisionOnAHostThatGotSlowerIsComparedWithWhatRanJustBeforeIt() throws Exception {
    // How slow the host is, outside every release: each get-sources answer waits what the file
    // backend/database/host-delay (a shared path) says, whichever commit answers.
    app.edit(
        "backend/app.py",
        s ->
            s.replace(
                    "        elif path == \"/api/config/get-sources\":\n",
                    "        elif path == \"/api/config/get-sources\":\n"
                        + "            time.sleep(host_delay())\n")
                .replace(
                    "class Handler(BaseHTTPRequestHandler):\n",
                    """
                    def host_delay():
                        try:
                            with open(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                   "database", "host-delay")) as f:
                                return float(f.read() or 0)
                        except OSError:
                            return 0.0


                    class Handler(BaseHTTPRequestHandler):
                    """));
    app.commitApp("Answers as fast as the host", "h1");
    app.extraChecks =
        """
              - name: latency
                latency: {url: "http://127.0.0.1:%d/api/config/get-sources", samples: 10, maxIncrease: 50%%, minDelta: 100ms}
        """
            .formatted(app.backendPort);
    app.deploy("h1");
    start("300ms");
    awaitPhase("vtrack", "Healthy", commitOf("h1")); // its baseline: a few milliseconds

    // The host got 150 ms slower for everything; the same code in a new version is no regression.
    Files.writeString(
        agent.stateDir.resolve("deployments/vtrack/shared/backend/database/host-delay"), "0.15");
    String v2 = app.goodUpgrade("2.0.0", "v2");
    app.deploy("v2");
    Map<String, Object> r2 = rolloutTo(v2);
    assertThat(r2.get("result")).as("%s", r2).isEqualTo("Succeeded");
    List<Map<String, Object>> steps =
        (List<Map<String, Object>>) agent.api.history("vtrack").get(0).get("steps");
    assertThat(steps)
        .anySatisfy(
            s -> {
              assertThat(s.get("name")).isEqualTo("measure-live");
              // The host's 150 ms and whatever a busy machine adds to it.
              var m =
                  java.util.regex.Pattern.compile("latency: median ([0-9.]+)ms")
                      .matcher(s.get("output").toString());
              assertThat(m.find()).as("%s", s.get("output")).isTrue();
              assertThat(Double.parseDouble(m.group(1))).isGreaterThanOrEqualTo(150.0);
            });

    // A revision 150 ms slower than that is still one.
    String v3 = app.slowerEndpoint("v3");
    app.deploy("v3");
    Map<String, Object> r3 = rolloutTo(v3);
    assertThat(r3.get("result")).as("%s", r3).isEqualTo("RolledBack");
    // Compared with the higher of v2's recorded baseline and what v2 answered before it stopped
    // (both about 150 ms here): the message says which.
    assertThat(r3.get("message").toString())
        .contains("latency: median")
        .containsPattern(
            "vs baseline [0-9.]+ms \\((recorded when "
                + v2.substring(0, 7)
                + " was verified|what "
                + v2.substring(0, 7)
                + " answered just before it stopped)\\)");
    awaitPhase("vtrack", "RolledBack", v2);

    // A rollback an operator asks for goes as fast as it can: nothing is measured first.
    Api.Answer back = agent.api.postAuthed("/api/v1/deployments/vtrack/rollback", "{}");
    assertThat(back.status()).as(back.body()).isEqualTo(202);
    awaitPhase("vtrack", "RolledBack", commitOf("h1"));
    Map<String, Object> manual = agent.api.history("vtrack").get(0);
    assertThat(manual.get("kind")).isEqualTo("rollback");
    assertThat((List<Map<String, Object>>) manual.get("steps"))
        .extracting(s -> s.get("name"))
        .contains("stop", "start")
        .doesNotContain("measure-live");
  }

  @Test
  void aMemoryHogIsCaughtByMemory() throws Exception {
    String msg =
        rolloutFails(
            """
              - name: memory
                memory: {service: backend, maxIncrease: 50%}
        """,
            "backend/app.py",
            s ->
                s.replace(
                    "def main():\n",
                    "CACHE = []\n\n\ndef main():\n    CACHE.append(b'x' * (300 * 1024 * 1024))\n"));
    assertThat(msg).contains("memory: resident").contains("above +50%");
  }

  @Test
  void errorLinesAreCaughtByLog() throws Exception {
    String msg =
        rolloutFails(
            """
              - name: no-errors
                log: {file: backend/logs/app.log, pattern: "(?i)\\\\berror\\\\b", max: 0}
        """,
            "backend/app.py",
            s ->
                s.replace(
                    "    def route(self, conn):\n",
                    "    def route(self, conn):\n        log.error(\"camera feed timeout on %s\", self.path)\n"));
    assertThat(msg)
        .contains("no-errors")
        .contains("matching lines since it started")
        .contains("camera feed timeout");
  }

  @Test
  void anErrorLoggedOnceAtStartupIsCaught() throws Exception {
    // Written before the first check round can run: counted from the switch, not from round one.
    String msg =
        rolloutFails(
            """
              - name: no-errors
                log: {service: backend, pattern: "ERROR", max: 0}
        """,
            "backend/app.py",
            s ->
                s.replace(
                    "    migrate()\n",
                    "    migrate()\n    log.error(\"plugin cameras.so failed to load\")\n"));
    assertThat(msg)
        .contains("no-errors: 1 matching lines since it started")
        .contains("plugin cameras.so");
    // A count since the release started never falls: the rollout fails without waiting for
    // startupTimeout.
    Map<?, ?> last = (Map<?, ?>) agent.api.status("vtrack").get("lastRollout");
    assertThat(last.get("reason")).isEqualTo("StartupFailed");
  }

  @Test
  void aBrokenNestedContractIsCaughtByHttp() throws Exception {
    String msg =
        rolloutFails(
            """
              - name: nested
                http: {url: "http://127.0.0.1:%d/api/config/get-sources", json: {"data[0].id": 1}}
        """
                .formatted(app.backendPort),
            "backend/app.py",
            s -> s.replace("data = [{\"id\": r[0],", "data = [{\"camera_id\": r[0],"));
    assertThat(msg).contains("nested: JSON path data[0].id is missing");
  }

  @Test
  void aCommandCheckDecidesByExitCode() throws Exception {
    // Every endpoint keeps its shape; only the smoke test sees a selected camera with no source.
    String msg =
        rolloutFails(
            """
              - name: smoke
                command: {command: [python3, tests/smoke.py, "http://127.0.0.1:%d"], cwd: .}
        """
                .formatted(app.backendPort),
            "backend/app.py",
            s ->
                s.replace(
                    "selected = json.loads(row[0]) if row else []",
                    "selected = (json.loads(row[0]) if row else []) + [99]"));
    assertThat(msg)
        .contains("smoke: exit code 1")
        .contains("selected cameras without a source: [99]");
  }

  @Test
  void promotionFromDevToProdOnOneAgent() throws Exception {
    int devBackend = TestApp.freePort();
    int devFrontend = TestApp.freePort();
    Files.writeString(
        app.deployDir.resolve("vtrack-dev.yaml"),
        app.document("vtrack-dev", "v1", devBackend, devFrontend, ""));
    Files.writeString(
        app.deployDir.resolve("vtrack.yaml"),
        app.document(
            "vtrack",
            "v1",
            app.backendPort,
            app.frontendPort,
            "  promotion: {requireHealthyIn: vtrack-dev}\n"));
    app.deploy.add().addFilepattern(".").call();
    app.deploy.commit().setMessage("dev and prod at v1").setAuthor("t", "t@example.com").call();
    start("300ms");
    awaitPhase("vtrack-dev", "Healthy", commitOf("v1"));
    awaitPhase("vtrack", "Healthy", commitOf("v1"));

    // v2 breaks the contract: dev rolls it back, so prod never takes it.
    app.edit(
        "backend/app.py",
        s -> s.replace("{\"success\": True, \"data\": data}", "{\"success\": True}"));
    String bad = app.commitApp("break", "v2");
    Files.writeString(
        app.deployDir.resolve("vtrack-dev.yaml"),
        app.document("vtrack-dev", "v2", devBackend, devFrontend, ""));
    Files.writeString(
        app.deployDir.resolve("vtrack.yaml"),
        app.document(
            "vtrack",
            "v2",
            app.backendPort,
            app.frontendPort,
            "  promotion: {requireHealthyIn: vtrack-dev}\n"));
    app.deploy.add().addFilepattern(".").call();
    app.deploy.commit().setMessage("dev and prod at v2").setAuthor("t", "t@example.com").call();
    awaitPhase("vtrack", "Pending", commitOf("v1"));
    Map<String, Object> prod = agent.api.status("vtrack");
    assertThat(prod.get("desiredCommit")).isEqualTo(bad);
    assertThat(((List<Map<String, Object>>) prod.get("conditions")))
        .anySatisfy(
            c -> {
              assertThat(c.get("type")).isEqualTo("Ready");
              assertThat(c.get("reason")).isEqualTo("AwaitingPromotion");
            });
    awaitPhase("vtrack-dev", "RolledBack", commitOf("v1"));
    assertThat(agent.api.status("vtrack").get("phase")).isEqualTo("Pending");
    assertThat(agent.api.history("vtrack")).hasSize(1);

    // A good v3 goes to dev first, then to prod.
    app.edit(
        "backend/app.py",
        s -> s.replace("{\"success\": True}", "{\"success\": True, \"data\": data}"));
    Files.writeString(app.appDir.resolve("VERSION"), "3.0.0\n");
    String v3 = app.commitApp("fix", "v3");
    Files.writeString(
        app.deployDir.resolve("vtrack-dev.yaml"),
        app.document("vtrack-dev", "v3", devBackend, devFrontend, ""));
    Files.writeString(
        app.deployDir.resolve("vtrack.yaml"),
        app.document(
            "vtrack",
            "v3",
            app.backendPort,
            app.frontendPort,
            "  promotion: {requireHealthyIn: vtrack-dev}\n"));
    app.deploy.add().addFilepattern(".").call();
    app.deploy.commit().setMessage("dev and prod at v3").setAuthor("t", "t@example.com").call();
    awaitPhase("vtrack-dev", "Healthy", v3);
    awaitPhase("vtrack", "Healthy", v3);
    Map<String, Object> devHistory = agent.api.history("vtrack-dev").get(0);
    Map<String, Object> prodHistory = agent.api.history("vtrack").get(0);
    assertThat(prodHistory.get("startedAt").toString())
        .isGreaterThan(devHistory.get("finishedAt").toString());
  }
}
