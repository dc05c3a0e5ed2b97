package io.vtrack.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.vtrack.agent.cli.VtrackCli;
import io.vtrack.agent.runtime.ProcStat;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The day-to-day tools: plan, diff, suspend and resume, the event stream, watch, the record. */
@SuppressWarnings("unchecked")
class OperationsIT extends AgentTestBase {

  /** A fingerprint of everything in the state store and of what runs. */
  private String fingerprint() throws Exception {
    StringBuilder sb = new StringBuilder();
    try (var c =
            java.sql.DriverManager.getConnection(
                "jdbc:sqlite:" + agent.stateDir.resolve("state.db"));
        var st = c.createStatement()) {
      for (String table :
          List.of(
              "deployments",
              "commits",
              "rollouts",
              "rollout_steps",
              "check_results",
              "backups",
              "processes",
              "events")) {
        String order =
            table.equals("deployments") ? "name" : table.equals("processes") ? "service" : "rowid";
        try (var rs = st.executeQuery("SELECT * FROM " + table + " ORDER BY " + order)) {
          int n = rs.getMetaData().getColumnCount();
          while (rs.next()) {
            for (int i = 1; i <= n; i++) {
              if (!"status_json".equals(rs.getMetaData().getColumnName(i))) {
                sb.append(rs.getString(i)).append('|');
              }
            }
            sb.append('\n');
          }
        }
      }
    }
    try (Stream<Path> releases =
        Files.list(agent.stateDir.resolve("deployments/vtrack/releases"))) {
      releases.sorted().forEach(p -> sb.append(p).append('\n'));
    }
    sb.append(backendPid());
    return HexFormat.of()
        .formatHex(MessageDigest.getInstance("SHA-256").digest(sb.toString().getBytes()));
  }

  @Test
  void planAndDiffSayWhatWouldHappenAndChangeNothing() throws Exception {
    app.deploy("v1");
    start("300ms");
    awaitPhase("Healthy", commitOf("v1"));
    Api.Answer idle = agent.api.getAuthed("/api/v1/deployments/vtrack/plan");
    assertThat(idle.json()).containsEntry("action", "Idle");

    // Suspend first so the new revision is only planned, never rolled out.
    assertThat(agent.api.postAuthed("/api/v1/deployments/vtrack/suspend", "").status())
        .isEqualTo(200);
    // Answered once the status says so: read right after, it is Suspended.
    assertThat(status()).containsEntry("phase", "Suspended");
    assertThat(agent.api.postAuthed("/api/v1/deployments/vtrack/resume", "").status())
        .isEqualTo(200);
    awaitPhase("Healthy", commitOf("v1"));
    // A document change the agent will see only at its next poll: plan and diff read it as it is.
    app.edit(
        "backend/app.py",
        s ->
            s.replace(
                "log.info(\"backend %s listening", "log.info(\"V_Track backend %s listening"));
    String v2 = app.commitApp("Log the product name at start", "v2");
    // Hold the agent back with the API-level suspend so the rollout does not start.
    assertThat(agent.api.postAuthed("/api/v1/deployments/vtrack/suspend", "").status())
        .isEqualTo(200);
    awaitPhase("Suspended", commitOf("v1"));
    app.extraSpec = "  releases: {keep: 4}\n";
    app.deploy("v2");
    await().atMost(LONG).until(() -> "v2".equals(status().get("desiredRevision")));
    String before = fingerprint();
    Map<String, Object> plan = agent.api.getAuthed("/api/v1/deployments/vtrack/plan").json();
    assertThat(plan).containsEntry("desiredCommit", v2).containsEntry("quarantined", false);
    assertThat(plan.get("action")).isEqualTo("Hold");
    Map<String, Object> diff = agent.api.getAuthed("/api/v1/deployments/vtrack/diff").json();
    assertThat(diff)
        .containsEntry("currentCommit", commitOf("v1"))
        .containsEntry("desiredCommit", v2);
    assertThat((List<Map<String, Object>>) diff.get("commits"))
        .singleElement()
        .satisfies(c -> assertThat(c.get("subject")).isEqualTo("Log the product name at start"));
    assertThat((List<Map<String, Object>>) diff.get("specChanges"))
        .anySatisfy(
            c -> {
              assertThat(c.get("path")).isEqualTo("spec.releases.keep");
              assertThat(c.get("running")).isEqualTo(5);
              assertThat(c.get("desired")).isEqualTo(4);
            });
    assertThat(fingerprint()).as("plan and diff change nothing").isEqualTo(before);

    // Resumed, the plan is a rollout: every step named, the backup it would take.
    assertThat(agent.api.postAuthed("/api/v1/deployments/vtrack/resume", "").status())
        .isEqualTo(200);
    await().atMost(LONG).until(() -> agent.api.history("vtrack").size() == 2);
    awaitPhase("Healthy", v2);
    assertThat(agent.api.history("vtrack").get(0).get("to")).isEqualTo(v2);
  }

  @Test
  void thePlanOfANewRevisionListsItsStepsAndBackups() throws Exception {
    app.deploy("v1");
    start("300ms");
    awaitPhase("Healthy", commitOf("v1"));
    assertThat(agent.api.postAuthed("/api/v1/deployments/vtrack/suspend", "").status())
        .isEqualTo(200);
    awaitPhase("Suspended", null);
    String v2 = app.goodUpgrade("2.0.0", "v2");
    app.deploy("v2");
    await().atMost(LONG).until(() -> v2.equals(status().get("desiredCommit")));
    // While suspended the plan holds, and says what resume would run.
    Map<String, Object> plan = agent.api.getAuthed("/api/v1/deployments/vtrack/plan").json();
    assertThat(plan).containsEntry("action", "Hold");
    String v1 = commitOf("v1").substring(0, 7);
    Map<String, Object> pending = (Map<String, Object>) plan.get("pendingRollout");
    assertThat(pending).containsEntry("to", v2);
    assertThat((List<String>) pending.get("steps"))
        .anyMatch(s -> s.startsWith("export release "))
        .anyMatch(
            s -> s.startsWith("validate backend-syntax: python3 -m py_compile backend/app.py"))
        .anyMatch(s -> s.startsWith("stop [backend, frontend] of " + v1))
        .anyMatch(s -> s.startsWith("verify [sources (http), cameras (http)"))
        .anyMatch(s -> s.contains("the first round once the checked addresses accept connections"))
        .anyMatch(s -> s.contains("roll back to " + v1 + " and restore the backup"));
    assertThat((List<String>) pending.get("backups"))
        .singleElement()
        .asString()
        .endsWith("shared/backend/database/events.db");
    Run cliPlan = cli("plan", "vtrack", server(), tokenFile());
    assertThat(cliPlan.out)
        .contains("Action:       Hold")
        .contains("Suspended")
        .contains("Once the hold lifts");
    assertThat(agent.api.postAuthed("/api/v1/deployments/vtrack/resume", "").status())
        .isEqualTo(200);
    awaitPhase("Healthy", v2);
  }

  @Test
  void suspendHoldsThroughAnAgentRestartAndAProcessCrash() throws Exception {
    app.deploy("v1");
    start("300ms");
    awaitPhase("Healthy", commitOf("v1"));
    assertThat(agent.api.post("/api/v1/deployments/vtrack/suspend", "", Map.of()).status())
        .isEqualTo(401);
    Run suspended = cli("suspend", "vtrack", server(), tokenFile());
    assertThat(suspended.code).isZero();
    assertThat(suspended.out.strip()).isEqualTo("vtrack suspended");
    awaitPhase("Suspended", commitOf("v1"));
    agent.stopAgent();
    long pid = backendPid();
    start("300ms");
    awaitPhase("Suspended", commitOf("v1"));
    // A crash is not healed while suspended: nothing changes what runs.
    new ProcessBuilder("kill", "-KILL", Long.toString(pid)).start().waitFor();
    await().atMost(LONG).until(() -> ProcStat.read(pid).map(s -> !s.alive()).orElse(true));
    String v2 = app.goodUpgrade("2.0.0", "v2");
    app.deploy("v2");
    await().atMost(LONG).until(() -> v2.equals(status().get("desiredCommit")));
    await()
        .during(Duration.ofSeconds(2))
        .atMost(Duration.ofSeconds(5))
        .until(
            () -> {
              try {
                return "Suspended".equals(status().get("phase")) && backendPid() == pid;
              } catch (Exception e) {
                return false;
              }
            });
    assertThat(agent.api.history("vtrack")).hasSize(1);
    Run resumed = cli("resume", "vtrack", server(), tokenFile());
    assertThat(resumed.code).isZero();
    assertThat(resumed.out.strip()).isEqualTo("vtrack resumed");
    awaitPhase("Healthy", v2);
  }

  @Test
  void suspendDuringARolloutAnswersAtOnceAndHoldsItAtItsNextStage() throws Exception {
    app.deploy("v1");
    start("300ms");
    String v1 = commitOf("v1");
    awaitPhase("Healthy", v1);
    // A validation that lasts until the test opens its gate: the rollout holds the slot meanwhile.
    Path gate = tmp.resolve("gate");
    String v2 = upgradeHeldInValidation(gate, "2.0.0", "v2");

    // The answer does not wait for the stage (it did: until the whole rollout was over).
    Api.Answer a =
        CompletableFuture.supplyAsync(
                () -> {
                  try {
                    return agent.api.postAuthed("/api/v1/deployments/vtrack/suspend", "");
                  } catch (Exception e) {
                    throw new IllegalStateException(e);
                  }
                })
            .get(30, java.util.concurrent.TimeUnit.SECONDS);
    assertThat(a.status()).as(a.body()).isEqualTo(200);
    assertThat(a.json().get("message").toString())
        .contains("(stage Validating) goes no further than the stage it is in");
    // The status says so as soon as it is answered (Suspended comes first, DESIGN.md §3).
    Map<String, Object> st = status();
    assertThat(st).containsEntry("phase", "Suspended");
    assertThat(st.get("message").toString())
        .contains("(stage Validating) goes no further than the stage it is in");

    // The stage that had begun ends; the rollout holds before its backup, the old release serves.
    Files.writeString(gate, "");
    awaitHeldBeforeBackup();
    assertThat(status().get("currentCommit")).isEqualTo(v1);
    Map<String, Object> held = agent.api.history("vtrack").get(0);
    assertThat(held.get("stage")).isEqualTo("BackingUp");
    assertThat(held.get("backup")).isNull();
    assertThat(runningVersion()).isEqualTo("1.0.0");

    Run resumed = cli("resume", "vtrack", server(), tokenFile());
    assertThat(resumed.code).isZero();
    assertThat(resumed.out).contains("(stage BackingUp) goes on");
    awaitPhase("Healthy", v2);
  }

  @Test
  void aRollbackDuringVerificationStopsItAtOnceAndGoesBack() throws Exception {
    app.deploy("v1");
    start("300ms");
    String v1 = commitOf("v1");
    awaitPhase("Healthy", v1);
    // A revision that answers 503 for ten minutes, verified for up to five: it serves its 503s
    // (recreate) until startupTimeout, unless someone rolls it back.
    app.timings = "startupTimeout: 5m\n    interval: 200ms\n    window: 1500ms";
    // Its migration writes the data too: a rollback puts the backup taken before it back.
    app.edit(
        "backend/app.py",
        s ->
            s.replace(
                "    conn.close()\n\n\ndef record_events",
                "    with conn:\n        conn.execute(\"CREATE TABLE IF NOT EXISTS v2_marker (x)\")\n"
                    + "    conn.close()\n\n\ndef record_events"));
    String v2 = app.warmsUpWith503(600, "v2");
    app.deploy("v2");
    awaitRounds(v2, "Verifying");
    assertThat(runningVersion()).isNull();
    // A round may come before the app has run its migration (a busy machine starts Python slowly).
    await().atMost(LONG).ignoreExceptions().until(() -> tables().contains("v2_marker"));

    Api.Answer elsewhere =
        agent.api.postAuthed(
            "/api/v1/deployments/vtrack/rollback", "{\"to\": \"" + v2.substring(0, 8) + "\"}");
    assertThat(elsewhere.status()).as(elsewhere.body()).isEqualTo(400);
    assertThat(elsewhere.json().get("message").toString())
        .contains("goes back to the last healthy commit " + v1.substring(0, 7));

    Run rb = cli("rollback", "vtrack", server(), tokenFile());
    assertThat(rb.code).as(rb.err).isZero();
    assertThat(rb.out)
        .contains("stopped in Verifying")
        .contains(v2.substring(0, 7) + " is quarantined")
        .contains("goes back to " + v1.substring(0, 7));
    awaitPhase("RolledBack", v1);
    assertThat(runningVersion()).isEqualTo("1.0.0");
    Map<String, Object> stopped = agent.api.history("vtrack").get(0);
    assertThat(stopped.get("result")).isEqualTo("RolledBack");
    assertThat(stopped.get("reason")).isEqualTo("ManualRollback");
    assertThat(stopped.get("message").toString())
        .contains("rolled back by token@127.0.0.1")
        .contains("while Verifying");
    assertThat(status().get("quarantinedCommits")).asList().contains(v2);
    assertThat(tables()).doesNotContain("v2_marker");
    assertThat((List<Map<String, Object>>) stopped.get("steps"))
        .anySatisfy(st -> assertThat(st.get("name")).isEqualTo("restore"));
    // Asked again, there is no rollout to stop: a rollback of what runs, with nothing to go to.
    Api.Answer again = agent.api.postAuthed("/api/v1/deployments/vtrack/rollback", "{}");
    assertThat(again.status()).as(again.body()).isEqualTo(400);
  }

  @Test
  void aRollbackAskedDuringAStageEndsTheRolloutThereAndHoldsThroughARestart() throws Exception {
    String v1 = deployHealthy("v1");
    long pid = backendPid();
    Path gate = tmp.resolve("gate");
    String v2 = upgradeHeldInValidation(gate, "2.0.0", "v2");

    // Asked while its validation runs (for five minutes): the command is killed, and the rollout
    // ends there, before anything that runs was touched.
    Api.Answer a = agent.api.postAuthed("/api/v1/deployments/vtrack/rollback", "");
    assertThat(a.status()).as(a.body()).isEqualTo(202);
    assertThat(a.json().get("message").toString())
        .contains("stopped in Validating")
        .contains(v1.substring(0, 7) + " runs on");
    // The status says so once answered: the rollout being stopped, or already ended.
    Map<String, Object> asked = status();
    if (!"RolledBack".equals(asked.get("phase"))) {
      assertThat(asked.get("message").toString()).contains("rolled back by token@127.0.0.1");
    }
    awaitPhase("RolledBack", v1);
    Map<String, Object> ended = agent.api.history("vtrack").get(0);
    assertThat(ended.get("result")).isEqualTo("Failed");
    assertThat(ended.get("reason")).isEqualTo("ManualRollback");
    assertThat(ended.get("backup")).isNull();
    assertThat((List<Map<String, Object>>) ended.get("steps"))
        .anySatisfy(
            st -> {
              assertThat(st.get("name")).isEqualTo("validate:gate");
              assertThat(st.get("output").toString())
                  .contains("rolled back by token@127.0.0.1")
                  .contains("validate 'gate' stopped after");
            });
    assertThat(HostProcesses.withCommandLine(gate.toString())).isEmpty();
    assertThat(backendPid()).isEqualTo(pid);
    assertThat(status().get("quarantinedCommits")).asList().containsExactly(v2);

    // Held by a suspension before its backup, asked, then the agent restarts: the request holds.
    Files.deleteIfExists(gate);
    String v3 = upgradeHeldInValidation(gate, "3.0.0", "v3");
    assertThat(agent.api.postAuthed("/api/v1/deployments/vtrack/suspend", "").status())
        .isEqualTo(200);
    Files.writeString(gate, "");
    awaitHeldBeforeBackup();
    Run held = cli("rollback", "vtrack", server(), tokenFile());
    assertThat(held.code).as(held.err).isZero();
    assertThat(held.out)
        .contains("stops before its next stage (BackingUp)")
        .contains("suspended: this happens when it is resumed");
    Api.Answer twice = agent.api.postAuthed("/api/v1/deployments/vtrack/rollback", "");
    assertThat(twice.status()).as(twice.body()).isEqualTo(409);
    assertThat(twice.json().get("message").toString()).contains("is being rolled back already");
    agent.stopAgent();
    start("300ms");
    awaitPhase("Suspended", v1);
    assertThat(agent.api.history("vtrack").get(0).get("result")).isNull();
    assertThat(status().get("message").toString())
        .contains("(stage BackingUp) was rolled back by token@127.0.0.1")
        .contains("it stops once resumed");
    assertThat(cli("resume", "vtrack", server(), tokenFile()).code).isZero();
    awaitPhase("RolledBack", v1);
    Map<String, Object> last = agent.api.history("vtrack").get(0);
    assertThat(last.get("reason")).isEqualTo("ManualRollback");
    assertThat(last.get("message").toString()).contains("while BackingUp");
    assertThat(last.get("backup")).isNull();
    assertThat(backendPid()).isEqualTo(pid);
    assertThat(status().get("quarantinedCommits")).asList().containsExactly(v3);
  }

  /**
   * Pushes a good upgrade whose validation lasts until {@code gate} exists, and waits until that
   * command runs; returns its commit.
   */
  private String upgradeHeldInValidation(Path gate, String version, String tag) throws Exception {
    app.validate =
        """
          validate:
            - name: gate
              command: [sh, -c, "touch %1$s.runs; while [ ! -e %1$s ]; do sleep 0.05; done"]
              timeout: 5m
        """
            .formatted(gate);
    Path runs = Path.of(gate + ".runs");
    Files.deleteIfExists(runs);
    String commit = app.goodUpgrade(version, tag);
    app.deploy(tag);
    await().atMost(LONG).until(() -> Files.exists(runs));
    assertThat(status().get("phase")).isEqualTo("Validating");
    return commit;
  }

  /** Until the rollout, suspended, holds before its backup. */
  private void awaitHeldBeforeBackup() {
    await()
        .atMost(LONG)
        .until(
            () ->
                "Suspended".equals(status().get("phase"))
                    && String.valueOf(status().get("message")).contains("(stage BackingUp)"));
  }

  /** The tables of the app's database. */
  private List<String> tables() throws Exception {
    List<String> names = new java.util.ArrayList<>();
    Path db = agent.stateDir.resolve("deployments/vtrack/shared/backend/database/events.db");
    try (var c = java.sql.DriverManager.getConnection("jdbc:sqlite:" + db);
        var rs =
            c.createStatement()
                .executeQuery("SELECT name FROM sqlite_master WHERE type = 'table'")) {
      while (rs.next()) {
        names.add(rs.getString(1));
      }
    }
    return names;
  }

  @Test
  void aRollbackAskedWhileSuspendedSaysItWaitsAndRunsWhenResumed() throws Exception {
    app.deploy("v1");
    start("300ms");
    String v1 = commitOf("v1");
    awaitPhase("Healthy", v1);
    String v2 = app.goodUpgrade("2.0.0", "v2");
    app.deploy("v2");
    awaitPhase("Healthy", v2);
    assertThat(cli("suspend", "vtrack", server(), tokenFile()).code).isZero();
    Run rb = cli("rollback", "vtrack", server(), tokenFile());
    assertThat(rb.code).as(rb.err).isZero();
    // It said "rollback started" and nothing happened until resumed.
    assertThat(rb.out)
        .contains("to " + v1.substring(0, 7) + " waits: the deployment is suspended")
        .doesNotContain("started");
    awaitPhase("Suspended", v2);
    assertThat(runningVersion()).isEqualTo("2.0.0");
    assertThat(cli("resume", "vtrack", server(), tokenFile()).code).isZero();
    awaitPhase("RolledBack", v1);
    assertThat(runningVersion()).isEqualTo("1.0.0");
  }

  /**
   * A rollout retrying a failure of the host (a package registry away) backs off up to two minutes
   * between attempts; a rollback asked meanwhile does not wait for the next one.
   */
  /**
   * A rollout failing for the host's reason (a registry away) backs off 1, 2, 4, 8 s between
   * attempts (±20 %), even while its source is polled every 300 ms and reads the same documents
   * each time: every poll cut the backoff short, and the step ran every 300 ms (134 times in 40 s).
   * A new commit still goes ahead at once, without waiting for the next attempt.
   */
  @Test
  void aSourceThatSaysTheSameAgainDoesNotCutABackoffShortButANewCommitDoes() throws Exception {
    deployHealthy("v1", "300ms");
    Path attempts = tmp.resolve("attempts");
    failFiveTimesForTheHost(attempts);
    List<Long> at = Files.readAllLines(attempts).stream().map(Long::parseLong).toList();
    for (int i = 0; i + 1 < 5; i++) {
      long backoffNanos = (long) (0.8 * (1L << i) * 1_000_000_000L);
      assertThat(at.get(i + 1) - at.get(i))
          .as("attempts %d and %d, after 15 polls: %s", i + 1, i + 2, at)
          .isGreaterThanOrEqualTo(backoffNanos);
    }
    int tried = at.size();
    // The status says which attempt failed and when the next is: 16 s after the fifth (±20 %).
    await()
        .atMost(LONG)
        .untilAsserted(
            () -> {
              String said = String.valueOf(readyCondition(status()).get("message"));
              Matcher m =
                  Pattern.compile(
                          "attempt 5 failed; the next at (\\S+), or now on `vtrack reconcile`;"
                              + " what runs is untouched")
                      .matcher(said);
              assertThat(m.find()).as(said).isTrue();
              long next = Instant.parse(m.group(1)).toEpochMilli();
              assertThat(next)
                  .isBetween(at.get(4) / 1_000_000 + 11_800, at.get(4) / 1_000_000 + 40_000);
            });

    // The next attempt is 16 s away: a new commit is taken now, not then.
    app.extraSpec = "";
    String v3 = app.goodUpgrade("3.0.0", "v3");
    app.deploy("v3");
    awaitPhase("Healthy", v3);
    assertThat(Files.readAllLines(attempts)).hasSize(tried);
    Map<String, Object> taken = agent.api.history("vtrack").get(0);
    assertThat(taken.get("to")).isEqualTo(v3);
    long takenAt = Instant.parse(taken.get("startedAt").toString()).toEpochMilli();
    assertThat(takenAt)
        .as("v3's rollout started before the earliest time of v2's next attempt")
        .isLessThan(at.get(tried - 1) / 1_000_000 + (long) (0.8 * 16_000));
  }

  @Test
  void aRollbackOfARolloutBackingOffStopsItWithoutWaitingForTheNextAttempt() throws Exception {
    deployHealthy("v1");
    long pid = backendPid();
    Path attempts = tmp.resolve("attempts");
    // After the fifth attempt the next waits 16 s (±20 %).
    failFiveTimesForTheHost(attempts);
    Api.Answer a = agent.api.postAuthed("/api/v1/deployments/vtrack/rollback", "");
    assertThat(a.status()).as(a.body()).isEqualTo(202);
    // Between two attempts, or as the last one ends: either way it stops there.
    assertThat(a.json().get("message").toString())
        .containsAnyOf(
            "stops before its next stage (Preparing)", "stops when its stage ends (Preparing)");
    int tried = Files.readAllLines(attempts).size();
    await().atMost(Duration.ofSeconds(10)).until(() -> "RolledBack".equals(status().get("phase")));
    Map<String, Object> ended = agent.api.history("vtrack").get(0);
    assertThat(ended.get("result")).isEqualTo("Failed");
    assertThat(ended.get("reason")).isEqualTo("ManualRollback");
    assertThat(Files.readAllLines(attempts)).hasSize(tried);
    assertThat(backendPid()).isEqualTo(pid);
  }

  /**
   * Deploys v2 with a {@code prepare} step that cannot reach the network (the host's failure,
   * retried with backoff), each attempt writing its time in nanoseconds to {@code attempts};
   * returns after its fifth attempt.
   */
  private void failFiveTimesForTheHost(Path attempts) throws Exception {
    app.extraSpec =
        """
          prepare:
            - {name: deps, command: [sh, -c, "date +%%s%%N >> %s; echo 'npm error code ECONNREFUSED' >&2; exit 1"], timeout: 60s}
        """
            .formatted(attempts);
    String v2 = app.goodUpgrade("2.0.0", "v2");
    app.deploy("v2");
    awaitRetryingInPreparing(v2, "prepare 'deps' could not reach the network");
    await()
        .atMost(LONG)
        .until(() -> Files.exists(attempts) && Files.readAllLines(attempts).size() >= 5);
  }

  @Test
  void theEventStreamAndWatchFollowARolloutAndTheRecordHoldsEverything() throws Exception {
    app.deploy("v1");
    start("300ms");
    awaitPhase("Healthy", commitOf("v1"));
    List<String> events = new CopyOnWriteArrayList<>();
    HttpClient http = HttpClient.newHttpClient();
    CompletableFuture<HttpResponse<Stream<String>>> stream =
        http.sendAsync(
            HttpRequest.newBuilder(
                    URI.create(
                        "http://127.0.0.1:"
                            + agent.agent.port()
                            + "/api/v1/events?deployment=vtrack"))
                .build(),
            HttpResponse.BodyHandlers.ofLines());
    HttpResponse<Stream<String>> resp = stream.get();
    assertThat(resp.headers().firstValue("Content-Type")).contains("text/event-stream");
    Thread reader =
        new Thread(
            () -> {
              try {
                resp.body().forEach(events::add);
              } catch (java.io.UncheckedIOException e) {
                // The agent closed the stream at the test's end.
              }
            });
    reader.setDaemon(true);
    reader.start();

    CompletableFuture<Run> watch =
        CompletableFuture.supplyAsync(() -> cli("watch", "vtrack", server(), "--timeout=90"));
    await().atMost(LONG).until(() -> events.stream().anyMatch(e -> e.startsWith(": vtrack")));
    app.edit(
        "backend/app.py",
        s -> s.replace("def main():\n", "def main():\n    raise SystemExit('no camera driver')\n"));
    String bad = app.commitApp("Switch camera driver", "v2");
    app.deploy("v2");
    Run w = watch.get(120, java.util.concurrent.TimeUnit.SECONDS);
    assertThat(w.code).as(w.out + w.err).isEqualTo(1);
    assertThat(w.out)
        .contains("step validate:backend-syntax: Succeeded")
        .contains("step start: Succeeded")
        .contains("RolledBack");
    await()
        .atMost(LONG)
        .until(() -> events.stream().anyMatch(e -> e.contains("\"type\":\"rollout\"")));
    assertThat(events).anyMatch(e -> e.equals("event: step"));
    assertThat(events)
        .anyMatch(e -> e.contains("\"type\":\"round\"") && e.contains("\"stage\":\"RollingBack"));
    assertThat(events).anyMatch(e -> e.contains("\"phase\":\"RollingBack\""));

    // The record of the rolled-back rollout: trigger, steps with output, rounds, backup, result.
    Map<String, Object> rec = agent.api.history("vtrack").get(0);
    assertThat(rec)
        .containsEntry("to", bad)
        .containsEntry("result", "RolledBack")
        .containsEntry("reason", "ServiceExited")
        .containsEntry("dataRestored", true)
        .containsKeys("startedAt", "finishedAt", "durationMs", "message");
    Map<String, Object> trigger = (Map<String, Object>) rec.get("trigger");
    Map<String, Object> source = (Map<String, Object>) trigger.get("source");
    assertThat(source)
        .containsEntry("subject", "Deploy v2")
        .containsEntry("author", "Test Author <author@example.com>")
        .containsEntry("file", "vtrack.yaml");
    assertThat((Map<String, Object>) trigger.get("commit"))
        .containsEntry("subject", "Switch camera driver");
    List<Map<String, Object>> steps = (List<Map<String, Object>>) rec.get("steps");
    assertThat(steps)
        .extracting(s -> s.get("name"))
        .containsExactly(
            "release",
            "validate:backend-syntax",
            "backup",
            "stop",
            "start",
            "verify",
            "rollback-stop",
            "restore",
            "rollback-start",
            "verify-rollback");
    assertThat(steps)
        .allSatisfy(
            s -> assertThat(s).containsKeys("startedAt", "finishedAt", "durationMs", "result"));
    assertThat(steps.get(5).get("output").toString())
        .contains("no camera driver")
        .doesNotContain("Succeeded");
    assertThat((Map<String, Object>) rec.get("backup"))
        .containsKeys("path", "sizeBytes", "integrity");
    assertThat(((Map<String, Object>) rec.get("backup")).get("integrity").toString())
        .contains("ok");
    assertThat((List<Map<String, Object>>) rec.get("checks"))
        .anySatisfy(c -> assertThat(c.get("stage").toString()).startsWith("RollingBack"));
    assertThat((List<Map<String, Object>>) rec.get("events"))
        .extracting(e -> e.get("type"))
        .contains("RolloutStarted", "Quarantined", "RolloutRolledBack");

    Run md = cli("history", "vtrack", "--id", rec.get("id").toString(), "-o", "markdown", server());
    assertThat(md.out)
        .contains("# Rollout #" + rec.get("id") + " of vtrack: RolledBack")
        .contains("- [x] **validate:backend-syntax**")
        .contains("- [ ] **verify**")
        .contains("## Backup")
        .contains("## Check rounds")
        .contains("Switch camera driver");
    Run report = cli("history", "vtrack", "--id", rec.get("id").toString(), server());
    assertThat(report.out).contains("Steps:").contains("rollback-start").contains("Backup:");
  }

  /**
   * A watch that joins while the candidate is verified says the rounds already run, in order
   * between the verify step's start and its end, each once (it subscribes to the events before it
   * reads the record, so nothing in between is lost either). The candidate is held in startup by a
   * check answering 503 (not ready) until the test lets it answer wrong.
   */
  @Test
  void aWatchJoinedDuringVerificationSaysTheRoundsAlreadyRunOnce() throws Exception {
    app.deploy("v1");
    start("300ms");
    awaitPhase("Healthy", commitOf("v1"));
    java.util.concurrent.atomic.AtomicBoolean hold =
        new java.util.concurrent.atomic.AtomicBoolean(true);
    com.sun.net.httpserver.HttpServer gate =
        com.sun.net.httpserver.HttpServer.create(new java.net.InetSocketAddress("127.0.0.1", 0), 0);
    gate.createContext(
        "/",
        x -> {
          byte[] body = "{}".getBytes(StandardCharsets.UTF_8);
          x.getResponseHeaders().add("Content-Type", "application/json");
          x.sendResponseHeaders(hold.get() ? 503 : 200, body.length);
          x.getResponseBody().write(body);
          x.close();
        });
    gate.start();
    try {
      app.extraChecks =
          """
                - name: gate
                  http: {url: "http://127.0.0.1:%d/", jsonKeys: [ready]}
          """
              .formatted(gate.getAddress().getPort());
      app.timings = "startupTimeout: 120s\n    interval: 200ms\n    window: 1500ms";
      String v2 = app.goodUpgrade("2.0.0", "v2");
      app.deploy("v2");
      await()
          .atMost(LONG)
          .until(
              () -> {
                Map<String, Object> r = agent.api.history("vtrack").get(0);
                return v2.equals(r.get("to"))
                    && ((List<?>) r.getOrDefault("checks", List.of())).size() > 0;
              });
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      CompletableFuture<Integer> watch =
          CompletableFuture.supplyAsync(
              () -> cli(out, out, "watch", "vtrack", server(), "--timeout=120"));
      await()
          .atMost(LONG)
          .until(() -> out.toString(StandardCharsets.UTF_8).contains("round 1 (Verifying"));
      hold.set(false);
      int code = watch.get(120, java.util.concurrent.TimeUnit.SECONDS);
      String text = out.toString(StandardCharsets.UTF_8);
      assertThat(code).as(text).isEqualTo(1);
      assertThat(text)
          .as(text)
          .containsPattern(
              "round 1 \\(Verifying:startup\\): Failing — .*gate: status 503.*\\(not ready\\)")
          .contains("missing JSON keys [ready] (wrong)")
          .contains("rollout #" + agent.api.history("vtrack").get(0).get("id") + " RolledBack");
      for (String once :
          List.of(
              "step release: Succeeded",
              "step verify: started",
              "round 1 (Verifying:startup)",
              "round 2 (Verifying:startup)",
              "step verify: Failed")) {
        assertThat(text.split(Pattern.quote(once), -1)).as(once + " once in " + text).hasSize(2);
      }
      assertThat(text.indexOf("step verify: started"))
          .as(text)
          .isLessThan(text.indexOf("round 1 (Verifying"));
      assertThat(text.indexOf("round 1 (Verifying")).isLessThan(text.indexOf("round 2 (Verifying"));
      assertThat(text.lastIndexOf("(Verifying:"))
          .as(text)
          .isLessThan(text.indexOf("step verify: Failed"));
    } finally {
      gate.stop(0);
    }
  }

  @Test
  void theStatusPageIsServedWithoutABuildStep() throws Exception {
    app.deploy("v1");
    start("300ms");
    awaitPhase("Healthy", commitOf("v1"));
    Api.Answer page = agent.api.get("/");
    assertThat(page.status()).isEqualTo(200);
    assertThat(page.body())
        .contains("<script src=\"/static/app.js\">")
        .doesNotContain("http://")
        .doesNotContain("https://");
    assertThat(agent.api.get("/static/app.js").body()).contains("EventSource");
    assertThat(agent.api.get("/static/style.css").status()).isEqualTo(200);
    Map<String, Object> d = agent.api.get("/api/v1/deployments/vtrack").json();
    assertThat((Map<String, Object>) d.get("commits")).containsKey(commitOf("v1"));
  }

  record Run(int code, String out, String err) {}

  private String server() {
    return "--server=http://127.0.0.1:" + agent.agent.port();
  }

  private String tokenFile() {
    return "--token-file=" + agent.stateDir.resolve("api-token");
  }

  private static Run cli(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = cli(out, err, args);
    return new Run(
        code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  /**
   * Runs the CLI in this JVM, its output and errors written to {@code out} and {@code err} as they
   * come.
   */
  private static int cli(ByteArrayOutputStream out, ByteArrayOutputStream err, String... args) {
    picocli.CommandLine cl = VtrackCli.commandLine();
    cl.setOut(new java.io.PrintWriter(out, true, StandardCharsets.UTF_8));
    cl.setErr(new java.io.PrintWriter(err, true, StandardCharsets.UTF_8));
    return cl.execute(args);
  }
}
