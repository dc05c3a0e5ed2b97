package io.vtrack.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The agent killed (SIGKILL, at a named point) while a blue-green rollout verifies its candidate
 * and just after the proxy switched, with a user polling the public address: the rollout ends
 * correctly after a restart, and the requests that failed are counted (the app and the proxy never
 * stopped, so there should be none).
 */
class BlueGreenRestartIT {
  @TempDir Path tmp;

  @ParameterizedTest(name = "agent killed at {0}")
  @ValueSource(strings = {"stage.Verifying", "switched.mid"})
  @SuppressWarnings("unchecked")
  void theRolloutEndsCorrectlyAndUsersNeverNotice(String crashAt) throws Exception {
    try (TestApp app = new TestApp(tmp.resolve("repos"));
        AgentProcess agent = new AgentProcess(tmp.resolve("agent"), app.deployUrl(), "300ms")) {
      String v1 = v1Healthy(app, agent);
      try (PollingClient user =
          new PollingClient("http://127.0.0.1:" + app.frontendPort + "/api/config/get-sources")) {
        await().atMost(Duration.ofSeconds(60)).until(() -> user.ok.get() > 10);
        String v2 = app.goodUpgrade("2.0.0", "v2");
        agent.kill();
        app.deploy("v2");
        agent.startNoWait(Map.of("VTRACK_CRASH_AT", crashAt));
        assertThat(agent.awaitExit(Duration.ofSeconds(120))).as(agent.log()).isEqualTo(137);
        agent.start();
        agent.awaitState("Healthy", v2);
        int ok = user.ok.get();
        await().atMost(Duration.ofSeconds(60)).until(() -> user.ok.get() > ok + 10);
        user.close();
        System.out.println("agent killed at " + crashAt + " during a blue-green upgrade: " + user);
        assertThat(user.failures).as("failed requests").isEmpty();
        Map<String, Object> st = agent.api().status("vtrack");
        assertThat((List<Object>) st.getOrDefault("quarantinedCommits", List.of())).isEmpty();
        assertThat(((List<Map<String, Object>>) st.get("instances")))
            .anySatisfy(
                i -> {
                  assertThat(i.get("role")).isEqualTo("Live");
                  assertThat(i.get("commit")).isEqualTo(v2);
                });
      }
    }
  }

  /**
   * Killed after the data came back but before the live instance started again on it: the restarted
   * agent must not take the stopped live instance for one still serving. It starts it, proves it,
   * and lets the requests the proxy held go on.
   */
  @org.junit.jupiter.api.Test
  @SuppressWarnings("unchecked")
  void killedBetweenTheRestoreAndTheLiveRestartTheLiveInstanceComesBack() throws Exception {
    try (TestApp app = new TestApp(tmp.resolve("repos"));
        AgentProcess agent = new AgentProcess(tmp.resolve("agent"), app.deployUrl(), "300ms")) {
      String v1 = v1Healthy(app, agent);
      Path db =
          agent.stateDir.resolve("deployments/" + app.name + "/shared/backend/database/events.db");
      long before = BlueGreenIT.rows(db);
      try (PollingClient user =
          new PollingClient("http://127.0.0.1:" + app.frontendPort + "/api/config/get-sources")) {
        await().atMost(Duration.ofSeconds(60)).until(() -> user.ok.get() > 10);
        String v2 = app.deleteRowsInMigration("v2");
        agent.kill();
        app.deploy("v2");
        agent.startNoWait(Map.of("VTRACK_CRASH_AT", "restored.mid"));
        assertThat(agent.awaitExit(Duration.ofSeconds(120))).as(agent.log()).isEqualTo(137);
        agent.start();
        agent.awaitState("RolledBack", v1);
        int ok = user.ok.get();
        await().atMost(Duration.ofSeconds(60)).until(() -> user.ok.get() > ok + 10);
        user.close();
        // The agent was down while the requests were held: some may outwait the client.
        System.out.println("agent killed between the restore and the live restart: " + user);
        Map<String, Object> st = agent.api().status("vtrack");
        assertThat((List<Object>) st.get("quarantinedCommits")).containsExactly(v2);
      }
      assertThat(BlueGreenIT.rows(db)).isEqualTo(before);
      try (var s = io.vtrack.agent.store.StateStore.open(agent.stateDir)) {
        var rows = s.processes().of("vtrack@" + liveColour(agent));
        assertThat(rows).extracting(r -> r.service()).contains("backend", "frontend");
        for (var r : rows) {
          assertThat(r.commit()).isEqualTo(v1);
          assertThat(io.vtrack.agent.runtime.ProcStat.isAlive(r.pid(), r.startTicks())).isTrue();
        }
      }
      var proxy =
          new io.vtrack.agent.proxy.ProxySupervisor(
              agent.stateDir,
              io.vtrack.agent.proxy.SwitchProxy.readToken(agent.stateDir.resolve("api-token")),
              true);
      assertThat(proxy.status().get("held")).isEqualTo(0);
      assertThat(
              io.vtrack.agent.proxy.Routes.read(io.vtrack.agent.proxy.Routes.file(agent.stateDir))
                  .routes())
          .isNotEmpty()
          .noneMatch(io.vtrack.agent.proxy.Routes.Route::held);
      // Started by an agent run from the jar: with the build's class-data archive of the proxy.
      long proxyPid = ((Number) proxy.status().get("pid")).longValue();
      assertThat(ProcessHandle.of(proxyPid).flatMap(h -> h.info().commandLine()).orElse(""))
          .contains("-XX:SharedArchiveFile=" + AgentProcess.JAR.resolveSibling("vtrack-proxy.jsa"));
    }
  }

  /**
   * An agent whose API token lives outside its state folder (auth.tokenFile), run from the jar's
   * folder as {@code java -jar vtrack-agent.jar}: the proxy it starts finds both the token and its
   * classes. When the proxy cannot start, the status says why at once, not after the start timeout,
   * and the proxy is back once the cause is gone.
   */
  @org.junit.jupiter.api.Test
  @SuppressWarnings("unchecked")
  void aProxyThatCannotStartSaysWhyAndComesBackWhenItCan() throws Exception {
    Path token = tmp.resolve("secrets/api-token");
    try (TestApp app = new TestApp(tmp.resolve("repos"));
        AgentProcess agent =
            new AgentProcess(tmp.resolve("agent"), app.deployUrl(), "300ms").tokenAt(token)) {
      v1Healthy(app, agent);
      assertThat(java.nio.file.Files.exists(agent.stateDir.resolve("api-token"))).isFalse();
      String publicUrl = "http://127.0.0.1:" + app.frontendPort + "/api/config/get-sources";
      assertThat(statusOf(publicUrl)).isEqualTo(200);
      long pid =
          ((Number) ((Map<String, Object>) agent.api().status("vtrack").get("proxy")).get("pid"))
              .longValue();
      assertThat(ProcessHandle.of(pid).flatMap(h -> h.info().commandLine()).orElse(""))
          .contains("--token-file " + token);

      // The token gone, the proxy killed: the one started in its place exits at once.
      Path away = tmp.resolve("secrets/away");
      java.nio.file.Files.move(token, away);
      ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
      await()
          .atMost(Duration.ofSeconds(30))
          .untilAsserted(
              () ->
                  assertThat(
                          String.valueOf(
                              ((Map<String, Object>) agent.api().status("vtrack").get("proxy"))
                                  .get("message")))
                      .contains("exited with code 1")
                      .contains("cannot read the agent's API token from " + token));

      java.nio.file.Files.move(away, token);
      await()
          .atMost(Duration.ofSeconds(60))
          .ignoreExceptions()
          .until(() -> statusOf(publicUrl) == 200);
      await()
          .atMost(Duration.ofSeconds(30))
          .untilAsserted(
              () ->
                  assertThat((Map<String, Object>) agent.api().status("vtrack").get("proxy"))
                      .containsEntry("healthy", true)
                      .doesNotContainKey("message"));
    }
  }

  /**
   * An operator upgrades by copying a new jar over the installed one ({@code cp}, which writes into
   * the same file). The agent and its switch proxy, both running from that file, have lost every
   * class they had not loaded yet (a proxy answered nothing, not even its health, and was replaced
   * only as a wedged one after 15 s; an agent fails whatever it had not done yet). Both exit within
   * a second, saying why; systemd starts the agent again (here the test does), and the agent its
   * proxy, from the jar as it is now.
   */
  @org.junit.jupiter.api.Test
  @SuppressWarnings("unchecked")
  void anAgentAndProxyWhoseJarWasCopiedOverExitAndComeBackFromTheNewOne() throws Exception {
    Path installed = tmp.resolve("opt/vtrack-agent.jar");
    java.nio.file.Files.createDirectories(installed.getParent());
    java.nio.file.Files.copy(AgentProcess.JAR, installed);
    try (TestApp app = new TestApp(tmp.resolve("repos"));
        AgentProcess agent =
            new AgentProcess(tmp.resolve("agent"), app.deployUrl(), "300ms").jar(installed)) {
      v1Healthy(app, agent);
      String publicUrl = "http://127.0.0.1:" + app.frontendPort + "/api/config/get-sources";
      Map<String, Object> proxy = (Map<String, Object>) agent.api().status("vtrack").get("proxy");
      long pid = ((Number) proxy.get("pid")).longValue();

      // `cp new.jar installed.jar`: the same file, its entries elsewhere in it now.
      byte[] rebuilt = padded(java.nio.file.Files.readAllBytes(AgentProcess.JAR));
      try (var out =
          java.nio.file.Files.newOutputStream(
              installed, java.nio.file.StandardOpenOption.TRUNCATE_EXISTING)) {
        out.write(rebuilt);
      }
      assertThat(agent.awaitExit(Duration.ofSeconds(30))).as(agent.log()).isEqualTo(70);
      assertThat(agent.log())
          .contains(installed + " was written over while this agent ran from it");
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> !ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false));
      assertThat(java.nio.file.Files.readString(agent.stateDir.resolve("proxy/proxy.log")))
          .contains(installed + " was written over while this switch proxy ran from it");

      agent.start();
      await()
          .atMost(Duration.ofSeconds(60))
          .ignoreExceptions()
          .untilAsserted(
              () -> {
                assertThat(statusOf(publicUrl)).isEqualTo(200);
                Map<String, Object> now =
                    (Map<String, Object>) agent.api().status("vtrack").get("proxy");
                assertThat(now).containsEntry("healthy", true);
                assertThat(((Number) now.get("pid")).longValue()).isNotEqualTo(pid);
              });
      // A jar replaced by a rename (dpkg, install, mv) leaves both running.
      Path staged = installed.resolveSibling("vtrack-agent.jar.new");
      java.nio.file.Files.write(staged, rebuilt);
      java.nio.file.Files.move(
          staged, installed, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      long newPid =
          ((Number) ((Map<String, Object>) agent.api().status("vtrack").get("proxy")).get("pid"))
              .longValue();
      // Both stay, through three of their looks at the jar.
      await()
          .during(Duration.ofSeconds(3))
          .atMost(Duration.ofSeconds(10))
          .until(
              () ->
                  agent.api().get("/readyz").status() == 200
                      && ProcessHandle.of(newPid).map(ProcessHandle::isAlive).orElse(false));
    }
  }

  /** The jar's entries behind a new first one: a valid jar whose every entry has moved. */
  private static byte[] padded(byte[] jar) throws Exception {
    var out = new java.io.ByteArrayOutputStream();
    try (var in = new java.util.zip.ZipInputStream(new java.io.ByteArrayInputStream(jar));
        var zip = new java.util.zip.ZipOutputStream(out)) {
      zip.putNextEntry(new java.util.zip.ZipEntry("META-INF/padding.txt"));
      zip.write("x".repeat(4096).getBytes(java.nio.charset.StandardCharsets.UTF_8));
      zip.closeEntry();
      for (var e = in.getNextEntry(); e != null; e = in.getNextEntry()) {
        zip.putNextEntry(new java.util.zip.ZipEntry(e.getName()));
        in.transferTo(zip);
        zip.closeEntry();
      }
    }
    return out.toByteArray();
  }

  private static int statusOf(String url) throws Exception {
    return java.net.http.HttpClient.newHttpClient()
        .send(
            java.net.http.HttpRequest.newBuilder(java.net.URI.create(url))
                .timeout(Duration.ofSeconds(10))
                .build(),
            java.net.http.HttpResponse.BodyHandlers.discarding())
        .statusCode();
  }

  /** The app as blue-green, v1 deployed and Healthy; returns v1's commit. */
  static String v1Healthy(TestApp app, AgentProcess agent) throws Exception {
    app.blueGreen("10m");
    app.timings = "startupTimeout: 20s\n    interval: 300ms\n    window: 1500ms";
    String v1 = app.app.getRepository().resolve("v1^{commit}").getName();
    app.deploy("v1");
    agent.start();
    agent.awaitState("Healthy", v1);
    return v1;
  }

  @SuppressWarnings("unchecked")
  static String liveColour(AgentProcess agent) throws Exception {
    return ((List<Map<String, Object>>) agent.api().status("vtrack").get("instances"))
        .stream()
            .filter(i -> "Live".equals(i.get("role")))
            .map(i -> (String) i.get("colour"))
            .findFirst()
            .orElseThrow();
  }
}
