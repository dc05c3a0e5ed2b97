package io.vtrack.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.vtrack.agent.store.StateStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code preview: snapshot} on the example app as real processes: a migration that deletes rows is
 * caught on a copy of the data, before the live database or the live release is touched; a good
 * migration passes the preview and switches; an agent killed during the preview cleans it up and
 * resumes. A user polls the public address every 20 ms throughout.
 */
@SuppressWarnings("unchecked")
class PreviewIT extends AgentTestBase {
  @TempDir Path agentRoot;

  @BeforeEach
  void snapshotPreview() {
    app.blueGreen("10m");
    app.extraSpec =
        app.extraSpec.replace("drainTimeout: 5s}", "drainTimeout: 5s, preview: snapshot}");
    app.timings = "startupTimeout: 20s\n    interval: 300ms\n    window: 1500ms";
  }

  Path liveDb() {
    return agent.stateDir.resolve("deployments/" + app.name + "/shared/backend/database/events.db");
  }

  /** What users have in the database: every row of every table, and the schema, digested. */
  static String digest(Path db) throws Exception {
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db)) {
      for (String table : List.of("video_sources", "processing_config", "sqlite_master")) {
        try (ResultSet rs =
            c.createStatement().executeQuery("SELECT * FROM " + table + " ORDER BY 1, 2")) {
          int cols = rs.getMetaData().getColumnCount();
          while (rs.next()) {
            for (int i = 1; i <= cols; i++) {
              md.update(String.valueOf(rs.getObject(i)).getBytes());
              md.update((byte) 0);
            }
          }
        }
      }
    }
    return HexFormat.of().formatHex(md.digest());
  }

  List<Map<String, Object>> steps() throws Exception {
    return (List<Map<String, Object>>) agent.api.history(app.name).get(0).get("steps");
  }

  long livePid() throws Exception {
    String colour =
        ((List<Map<String, Object>>) status().get("instances"))
            .stream()
                .filter(i -> "Live".equals(i.get("role")))
                .map(i -> (String) i.get("colour"))
                .findFirst()
                .orElseThrow();
    try (StateStore s = StateStore.open(agent.stateDir)) {
      return s.processes().of(app.name + "@" + colour).stream()
          .filter(p -> p.service().equals("backend"))
          .findFirst()
          .orElseThrow()
          .pid();
    }
  }

  @Test
  void aMigrationDeletingRowsIsCaughtOnTheCopyAndNothingLiveIsTouched() throws Exception {
    String v1 = deployHealthy("v1");
    long pid = livePid();
    String before = digest(liveDb());
    long size = Files.size(liveDb());
    try (PollingClient user =
        new PollingClient("http://127.0.0.1:" + app.frontendPort + "/api/config/get-sources")) {
      await().atMost(LONG).until(() -> user.ok.get() > 10);
      String bad = app.deleteRowsInMigration("v2");
      app.deploy("v2");
      awaitPhase("RolledBack", v1);
      user.close();
      System.out.println("deleted rows caught in the preview: " + user);
      assertThat(user.failures).as("failed requests").isEmpty();
      Map<String, Object> st = status();
      assertThat((List<Object>) st.get("quarantinedCommits")).containsExactly(bad);
      Map<String, Object> last = (Map<String, Object>) st.get("lastRollout");
      assertThat(last.get("reason")).isEqualTo("PreviewFailed");
      assertThat(String.valueOf(last.get("message"))).contains("sources-kept");
    }
    // The live database and the live release: exactly as they were.
    assertThat(digest(liveDb())).isEqualTo(before);
    assertThat(Files.size(liveDb())).isEqualTo(size);
    assertThat(livePid()).isEqualTo(pid);
    assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive)).contains(true);
    assertThat(steps()).extracting(s -> s.get("name")).doesNotContain("restore", "start", "switch");
    assertThat(steps())
        .extracting(s -> s.get("name"))
        .contains("preview-copy", "preview-start", "preview-verify", "preview-stop");
    // The preview and its copy are gone.
    assertThat(agent.stateDir.resolve("deployments/" + app.name + "/preview")).doesNotExist();
    assertThat((List<Map<String, Object>>) status().get("instances"))
        .noneSatisfy(i -> assertThat(i.get("role")).isEqualTo("Preview"));
  }

  @Test
  void aRollbackDuringThePreviewEndsItAndTouchesNothingLive() throws Exception {
    String v1 = deployHealthy("v1");
    long pid = livePid();
    String before = digest(liveDb());
    // Not ready for ten minutes on the copy, previewed for up to five.
    app.timings = "startupTimeout: 5m\n    interval: 300ms\n    window: 1500ms";
    String v2 = app.warmsUpWith503(600, "v2");
    app.deploy("v2");
    awaitRounds(v2, "Previewing");
    Api.Answer a = agent.api.postAuthed("/api/v1/deployments/" + app.name + "/rollback", "{}");
    assertThat(a.status()).as(a.body()).isEqualTo(202);
    assertThat(a.json().get("message").toString())
        .contains("stopped in Previewing")
        .contains(v1.substring(0, 7) + " runs on");
    awaitPhase("RolledBack", v1);
    Map<String, Object> last = agent.api.history(app.name).get(0);
    assertThat(last.get("result")).isEqualTo("Failed");
    assertThat(last.get("reason")).isEqualTo("ManualRollback");
    assertThat((List<Object>) status().get("quarantinedCommits")).containsExactly(v2);
    assertThat(steps()).extracting(s -> s.get("name")).contains("preview-stop");
    assertThat(steps()).extracting(s -> s.get("name")).doesNotContain("start", "switch");
    assertThat(agent.stateDir.resolve("deployments/" + app.name + "/preview")).doesNotExist();
    assertThat((List<Map<String, Object>>) status().get("instances"))
        .noneSatisfy(i -> assertThat(i.get("role")).isEqualTo("Preview"));
    assertThat(digest(liveDb())).isEqualTo(before);
    assertThat(livePid()).isEqualTo(pid);
  }

  @Test
  void aGoodMigrationPassesThePreviewThenSwitchesWithNoFailedRequest() throws Exception {
    deployHealthy("v1");
    try (PollingClient user =
        new PollingClient("http://127.0.0.1:" + app.frontendPort + "/api/config/get-sources")) {
      await().atMost(LONG).until(() -> user.ok.get() > 10);
      app.edit(
          "backend/app.py",
          s ->
              s.replace(
                  "    conn.close()\n\n\ndef record_events",
                  "    if \"note\" not in [r[1] for r in conn.execute(\"PRAGMA table_info(video_sources)\")]:\n"
                      + "        with conn:\n"
                      + "            conn.execute(\"ALTER TABLE video_sources ADD COLUMN note TEXT\")\n"
                      + "    conn.close()\n\n\ndef record_events"));
      app.edit("VERSION", v -> "2.0.0\n");
      String v2 = app.commitApp("Adds a note column", "v2");
      app.deploy("v2");
      awaitPhase("Healthy", v2);
      await().atMost(LONG).until(() -> "2.0.0".equals(runningVersion()));
      int ok = user.ok.get();
      await().atMost(LONG).until(() -> user.ok.get() > ok + 10);
      user.close();
      System.out.println("a good migration through the preview: " + user);
      assertThat(user.failures).as("failed requests").isEmpty();
    }
    assertThat(steps())
        .extracting(s -> s.get("name"))
        .containsSubsequence("backup", "preview-copy", "preview-verify", "preview-stop", "start")
        .contains("switch");
    // The column exists on the live database: the migration ran live after the preview.
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + liveDb());
        ResultSet rs = c.createStatement().executeQuery("PRAGMA table_info(video_sources)")) {
      boolean note = false;
      while (rs.next()) {
        note |= "note".equals(rs.getString(2));
      }
      assertThat(note).isTrue();
    }
    assertThat(agent.stateDir.resolve("deployments/" + app.name + "/preview")).doesNotExist();
  }

  @Test
  void anAgentKilledDuringThePreviewClearsItAndResumes() throws Exception {
    try (AgentProcess proc = new AgentProcess(agentRoot, app.deployUrl(), "300ms")) {
      // Long enough a preview to kill the agent in the middle of it.
      app.timings = "startupTimeout: 20s\n    interval: 300ms\n    window: 6s";
      String v1 = commitOf("v1");
      app.deploy("v1");
      proc.start();
      proc.awaitState("Healthy", v1);
      Path db = proc.stateDir.resolve("deployments/vtrack/shared/backend/database/events.db");
      String before = digest(db);
      try (PollingClient user =
          new PollingClient("http://127.0.0.1:" + app.frontendPort + "/api/config/get-sources")) {
        await().atMost(LONG).until(() -> user.ok.get() > 10);
        String v2 = app.goodUpgrade("2.0.0", "v2");
        app.deploy("v2");
        // The preview runs: its instance answers on the copy.
        await()
            .atMost(LONG)
            .pollInterval(Duration.ofMillis(50))
            .untilAsserted(
                () ->
                    assertThat(
                            proc.api().status("vtrack").get("phase")
                                + " "
                                + proc.api().history("vtrack").get(0).get("steps"))
                        .as("%s", proc.log())
                        .startsWith("Previewing")
                        .contains("preview-verify"));
        long previewPid;
        try (StateStore s = StateStore.open(proc.stateDir)) {
          previewPid = s.processes().of("vtrack@preview").get(0).pid();
        }
        proc.kill();
        assertThat(digest(db)).isEqualTo(before);
        proc.start();
        proc.awaitState("Healthy", v2);
        int ok = user.ok.get();
        await().atMost(LONG).until(() -> user.ok.get() > ok + 10);
        user.close();
        System.out.println("agent killed during the preview: " + user);
        assertThat(user.failures).as("failed requests").isEmpty();
        // The interrupted preview's processes were stopped, its copy deleted, and it ran again.
        assertThat(ProcessHandle.of(previewPid).map(ProcessHandle::isAlive).orElse(false))
            .isFalse();
        assertThat(proc.stateDir.resolve("deployments/vtrack/preview")).doesNotExist();
        assertThat(String.valueOf(proc.api().history("vtrack").get(0).get("steps")))
            .contains("preview-clear");
      }
    }
  }
}
