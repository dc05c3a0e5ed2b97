package io.vtrack.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.vtrack.agent.store.StateStore;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Blue-green on the example app as real processes, with a user polling the public address every 20
 * ms through each story: a good upgrade switches with no failed request, a bad revision is never
 * served, and a rollback while the old release is warm is a switch back, no restart.
 */
@SuppressWarnings("unchecked")
class BlueGreenIT extends AgentTestBase {

  /** A log check on the backend's own output: any ERROR line fails verification. */
  static final String NO_ERRORS =
      """
            - name: no-errors
              log: {service: backend, pattern: "ERROR", max: 0}
      """;

  @BeforeEach
  void blueGreen() {
    app.blueGreen("10m");
    app.timings = "startupTimeout: 20s\n    interval: 300ms\n    window: 1500ms";
  }

  PollingClient user() {
    // Through the public frontend address: the frontend asks its own instance's backend.
    return new PollingClient("http://127.0.0.1:" + app.frontendPort + "/api/config/get-sources");
  }

  List<Map<String, Object>> instances() {
    return (List<Map<String, Object>>) status().getOrDefault("instances", List.of());
  }

  Map<String, Object> instance(String role) {
    return instances().stream().filter(i -> role.equals(i.get("role"))).findFirst().orElse(null);
  }

  long pidOf(String colour, String service) throws Exception {
    try (StateStore s = StateStore.open(agent.stateDir)) {
      return s.processes().of(app.name + "@" + colour).stream()
          .filter(p -> p.service().equals(service))
          .findFirst()
          .orElseThrow()
          .pid();
    }
  }

  /**
   * The colour whose {@code logs/<colour>/<service>.log} the contract's {@code logs/<service>.log}
   * points at (a link), or null when that is no link.
   */
  String linkedColour(String service) throws Exception {
    Path link = agent.stateDir.resolve("deployments/" + app.name + "/logs/" + service + ".log");
    if (!java.nio.file.Files.isSymbolicLink(link)) {
      return null;
    }
    Path target = java.nio.file.Files.readSymbolicLink(link);
    assertThat(target.getFileName().toString()).isEqualTo(service + ".log");
    // It reads what the instance wrote.
    assertThat(java.nio.file.Files.readString(link))
        .isEqualTo(java.nio.file.Files.readString(link.resolveSibling(target)));
    return target.getParent().toString();
  }

  @Test
  void aGoodUpgradeSwitchesWithNoFailedRequestAndTheOldOneStaysWarm() throws Exception {
    app.deploy("v1");
    String v1 = commitOf("v1");
    start("300ms");
    // The first candidate is verified before anything is served: the proxy is not started yet,
    // and that is said as such, not as a proxy that does not answer.
    await()
        .atMost(LONG)
        .pollInterval(Duration.ofMillis(50))
        .untilAsserted(
            () -> {
              Map<String, Object> st = status();
              assertThat(st.get("phase")).isEqualTo("Verifying");
              assertThat((Map<String, Object>) st.get("proxy"))
                  .containsExactly(
                      Map.entry("message", "not started yet: it starts at the first switch"));
            });
    awaitPhase("Healthy", v1);
    Map<String, Object> live = instance("Live");
    assertThat(live.get("commit")).isEqualTo(v1);
    String blue = (String) live.get("colour");
    try (PollingClient user = user()) {
      await().atMost(LONG).until(() -> user.ok.get() > 10);
      String v2 = app.goodUpgrade("2.0.0", "v2");
      app.deploy("v2");
      awaitPhase("Healthy", v2);
      await().atMost(LONG).until(() -> "2.0.0".equals(runningVersion()));
      int okAfterSwitch = user.ok.get();
      await().atMost(LONG).until(() -> user.ok.get() > okAfterSwitch + 10);
      user.close();
      System.out.println("upgrade v1 -> v2 under load: " + user);
      assertThat(user.failures).as("failed requests during the upgrade").isEmpty();
    }
    assertThat(instance("Live").get("colour")).isNotEqualTo(blue);
    Map<String, Object> warm = instance("Warm");
    assertThat(warm).as("instances %s", instances()).isNotNull();
    assertThat(warm.get("commit")).isEqualTo(v1);
    assertThat(warm.get("warmUntil")).isNotNull();
    Map<String, Object> proxy = (Map<String, Object>) status().get("proxy");
    assertThat(proxy.get("healthy")).isEqualTo(true);
    List<Map<String, Object>> steps =
        (List<Map<String, Object>>) agent.api.history(app.name).get(0).get("steps");
    assertThat(steps).anySatisfy(s -> assertThat(s.get("name")).isEqualTo("switch"));
  }

  @Test
  void aBadRevisionIsNeverServed() throws Exception {
    String v1 = deployHealthy("v1");
    long livePid = pidOf((String) instance("Live").get("colour"), "backend");
    try (PollingClient user = user()) {
      await().atMost(LONG).until(() -> user.ok.get() > 10);
      // It also starts a worker in a session of its own: that goes with the candidate too.
      app.detachesAWorker("detached-worker-of-candidate");
      String bad = app.breakContract("v2");
      app.deploy("v2");
      awaitPhase("RolledBack", v1);
      user.close();
      System.out.println("broken contract under load: " + user);
      assertThat(user.failures).as("failed requests while v2 was tried").isEmpty();
      assertThat((List<Object>) status().get("quarantinedCommits")).containsExactly(bad);
    }
    assertThat(HostProcesses.withCommandLine("detached-worker-of-candidate")).isEmpty();
    assertThat((List<Map<String, Object>>) agent.api.history("vtrack").get(0).get("steps"))
        .anySatisfy(
            s -> {
              assertThat(s.get("name")).isEqualTo("rollback-stop");
              assertThat(s.get("output").toString())
                  .contains("candidate")
                  .contains("backend: stopped 1 process it started out of its process group");
            });
    // The live instance never stopped.
    assertThat(pidOf((String) instance("Live").get("colour"), "backend")).isEqualTo(livePid);
    assertThat(instance("Candidate")).isNull();
    assertThat(runningVersion()).isEqualTo("1.0.0");
  }

  @Test
  void aRollbackWhileTheCandidateIsVerifiedStopsItAtOnceAndNoUserSawIt() throws Exception {
    String v1 = deployHealthy("v1");
    long livePid = pidOf((String) instance("Live").get("colour"), "backend");
    // Not ready for ten minutes, verified for up to five: a rollback is the way out.
    app.timings = "startupTimeout: 5m\n    interval: 300ms\n    window: 1500ms";
    try (PollingClient user = user()) {
      await().atMost(LONG).until(() -> user.ok.get() > 10);
      String v2 = app.warmsUpWith503(600, "v2");
      app.deploy("v2");
      awaitRounds(v2, "Verifying");
      Api.Answer a = agent.api.postAuthed("/api/v1/deployments/" + app.name + "/rollback", "{}");
      assertThat(a.status()).as(a.body()).isEqualTo(202);
      assertThat(a.json().get("message").toString()).contains("stopped in Verifying");
      awaitPhase("RolledBack", v1);
      user.close();
      System.out.println("rollback while the candidate is verified, under load: " + user);
      assertThat(user.failures).as("failed requests while v2 was tried").isEmpty();
      assertThat((List<Object>) status().get("quarantinedCommits")).containsExactly(v2);
    }
    Map<String, Object> last = agent.api.history(app.name).get(0);
    assertThat(last.get("reason")).isEqualTo("ManualRollback");
    assertThat(pidOf((String) instance("Live").get("colour"), "backend")).isEqualTo(livePid);
    assertThat(instance("Candidate")).isNull();
    assertThat(runningVersion()).isEqualTo("1.0.0");
  }

  @Test
  void aRollbackWhileWarmIsASwitchBack() throws Exception {
    String v1 = deployHealthy("v1");
    String v1Colour = (String) instance("Live").get("colour");
    long v1Pid = pidOf(v1Colour, "backend");
    assertThat(linkedColour("backend")).isEqualTo(v1Colour);
    String v2 = app.goodUpgrade("2.0.0", "v2");
    app.deploy("v2");
    awaitPhase("Healthy", v2);
    String v2Colour = (String) instance("Live").get("colour");
    assertThat(v2Colour).isNotEqualTo(v1Colour);
    assertThat(linkedColour("backend")).isEqualTo(v2Colour);
    assertThat(linkedColour("frontend")).isEqualTo(v2Colour);
    try (PollingClient user = user()) {
      await().atMost(LONG).until(() -> user.ok.get() > 10);
      // Twenty operators at once (a double-click, a retrying script): one switch back, the
      // others refused, never a second one run alongside or after it.
      var pool = java.util.concurrent.Executors.newFixedThreadPool(20);
      List<Integer> codes = new java.util.ArrayList<>();
      try {
        List<java.util.concurrent.Future<Api.Answer>> answers = new java.util.ArrayList<>();
        for (int i = 0; i < 20; i++) {
          answers.add(
              pool.submit(
                  () ->
                      agent.api.postAuthed("/api/v1/deployments/" + app.name + "/rollback", "{}")));
        }
        for (var f : answers) {
          codes.add(f.get().status());
        }
      } finally {
        pool.shutdown();
      }
      assertThat(codes).as("%s", codes).containsOnly(202, 409);
      assertThat(codes.stream().filter(c -> c == 202).count()).as("%s", codes).isEqualTo(1);
      await()
          .atMost(LONG)
          .untilAsserted(
              () -> {
                assertThat(status().get("currentCommit")).isEqualTo(v1);
                assertThat(status().get("lastRollout").toString()).contains("result");
              });
      await().atMost(LONG).until(() -> "1.0.0".equals(runningVersion()));
      user.close();
      System.out.println("rollback while warm under load: " + user);
      assertThat(user.failures).as("failed requests during the switch back").isEmpty();
    }
    // No restart: the same process serves v1 again.
    assertThat(instance("Live").get("colour")).isEqualTo(v1Colour);
    assertThat(linkedColour("backend")).isEqualTo(v1Colour);
    assertThat(pidOf(v1Colour, "backend")).isEqualTo(v1Pid);
    List<Map<String, Object>> steps =
        (List<Map<String, Object>>) agent.api.history(app.name).get(0).get("steps");
    assertThat(steps).anySatisfy(s -> assertThat(s.get("name")).isEqualTo("reuse-warm"));
    assertThat(agent.api.history(app.name))
        .filteredOn(h -> "rollback".equals(h.get("kind")))
        .hasSize(1);
    await().atMost(LONG).until(() -> instance("Warm") == null);
    assertThat(v2).isNotNull();
  }

  /**
   * A deployment moving to blue-green and back, as a team adopting it would: the same commit each
   * time, a user polling the public address throughout. To blue-green, the release started with
   * recreate holds the public ports until the proxy takes them; back to recreate, the proxy gives
   * them up to the release. Each change is a rollout that ends Healthy with nothing left of the
   * other strategy. Between the old release's stop and the new owner's bind the port is closed for
   * a moment (one process cannot take a port another holds): the failed requests are reported.
   */
  @Test
  void aStrategyChangeEitherWayEndsServedAndLeavesNothingOfTheOther() throws Exception {
    app.recreate();
    String v1 = deployHealthy("v1");
    long recreated = backendPid();
    app.blueGreen("10m");
    redeployUnderLoad("recreate -> blue-green", 2);
    assertThat(agent.api.history(app.name).get(0).get("steps").toString())
        .contains("the release started with recreate was stopped first");
    assertThat(instance("Live").get("commit")).isEqualTo(v1);
    assertThat(((Map<String, Object>) status().get("proxy")).get("healthy")).isEqualTo(true);
    assertThat(ProcessHandle.of(recreated).map(ProcessHandle::isAlive).orElse(false)).isFalse();
    try (StateStore s = StateStore.open(agent.stateDir)) {
      assertThat(s.processes().of(app.name)).isEmpty();
    }
    assertThat(runningVersion()).isEqualTo("1.0.0");
    // logs/<service>.log follows the live instance; what the recreated release wrote is kept.
    Path logs = agent.stateDir.resolve("deployments/" + app.name + "/logs");
    assertThat(linkedColour("backend")).isEqualTo(instance("Live").get("colour"));
    assertThat(java.nio.file.Files.size(logs.resolve("backend.log.recreate"))).isPositive();

    app.recreate();
    redeployUnderLoad("blue-green -> recreate", 3);
    assertThat(agent.api.history(app.name).get(0).get("steps").toString())
        .contains("the strategy is now recreate");
    assertThat(instances()).isEmpty();
    assertThat(
            io.vtrack.agent.proxy.Routes.read(io.vtrack.agent.proxy.Routes.file(agent.stateDir))
                .routes())
        .noneMatch(r -> app.name.equals(r.deployment()));
    try (StateStore s = StateStore.open(agent.stateDir)) {
      assertThat(s.instances().of(app.name)).isEmpty();
      assertThat(s.processes().of(app.name))
          .extracting(p -> p.service())
          .containsExactlyInAnyOrder("backend", "frontend");
    }
    assertThat(runningVersion()).isEqualTo("1.0.0");
    // Its own file again, which the release writes.
    assertThat(linkedColour("backend")).isNull();
    await().atMost(LONG).until(() -> java.nio.file.Files.size(logs.resolve("backend.log")) > 0);
  }

  /**
   * Deploys v1 again (its document changed) with a user polling, until rollout {@code n} Succeeded
   * and the user was answered again; prints what the user saw.
   */
  private void redeployUnderLoad(String change, int n) throws Exception {
    try (PollingClient user = user()) {
      await().atMost(LONG).until(() -> user.ok.get() > 10);
      app.deploy("v1");
      awaitRollouts(n);
      int ok = user.ok.get();
      await().atMost(LONG).until(() -> user.ok.get() > ok + 10);
      System.out.println(change + " under load: " + user);
    }
  }

  @Test
  void theSwitchProxyThatDiesIsStartedAgain() throws Exception {
    deployHealthy("v1");
    long pid = ((Number) ((Map<String, Object>) status().get("proxy")).get("pid")).longValue();
    ProcessHandle.of(pid).orElseThrow().destroyForcibly();
    awaitProxyReplaced(pid);
  }

  /**
   * Until another proxy than {@code pid} serves v1 at the public address, and the deployment's
   * status says so by itself (no rollout or failing round needed).
   */
  private void awaitProxyReplaced(long pid) {
    await()
        .atMost(LONG)
        .pollInterval(Duration.ofMillis(100))
        .untilAsserted(
            () -> {
              var state = io.vtrack.agent.proxy.ProxyState.read(agent.stateDir);
              assertThat(state).isNotNull();
              assertThat(state.pid()).isNotEqualTo(pid);
              assertThat(runningVersion()).isEqualTo("1.0.0");
              assertThat(((Map<String, Object>) status().get("proxy")).get("pid"))
                  .isEqualTo((int) state.pid());
            });
  }

  /**
   * A proxy that runs but does not answer (here stopped by SIGSTOP, as a process starved of CPU on
   * a busy host looks) is waited for: replacing it would close every user's connection. Only after
   * {@code WEDGED_AFTER} of silence is it taken for wedged and replaced.
   */
  @Test
  void aProxyThatRunsButDoesNotAnswerIsWaitedForThenReplaced() throws Exception {
    deployHealthy("v1");
    long pid = ((Number) ((Map<String, Object>) status().get("proxy")).get("pid")).longValue();
    new ProcessBuilder("kill", "-STOP", Long.toString(pid)).start().waitFor();
    try {
      awaitProxy(false, "does not answer");
      // Silent for longer than two unanswered probes (which replaced it before): still the same.
      await()
          .during(Duration.ofSeconds(6))
          .atMost(Duration.ofSeconds(12))
          .until(
              () ->
                  io.vtrack.agent.proxy.ProxyState.read(agent.stateDir).pid() == pid
                      && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false));
      // Silent on: replaced, and the public address serves again.
      awaitProxyReplaced(pid);
      assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).isFalse();
    } finally {
      new ProcessBuilder("kill", "-CONT", Long.toString(pid)).start().waitFor();
    }
    awaitProxy(true, null);
  }

  /**
   * routes.json is on-disk state a careless hand may break: cut short, or deleted while the proxy
   * restarts. The store says which instance is live, so the agent writes its routes again, and the
   * public address serves it.
   */
  @Test
  void aBrokenOrLostRoutesFileIsWrittenAgainFromTheStore() throws Exception {
    // A second blue-green deployment of the app on its own public ports shares the proxy.
    int otherBackend = TestApp.freePort();
    int otherFrontend = TestApp.freePort();
    java.nio.file.Files.writeString(
        app.deployDir.resolve("other.yaml"),
        app.document("other", "v1", otherBackend, otherFrontend, app.extraSpec)
            .replace("http://127.0.0.1:" + otherBackend, "http://127.0.0.1:${port:backend}")
            .replace("http://127.0.0.1:" + otherFrontend, "http://127.0.0.1:${port:frontend}"));
    deployHealthy("v1");
    await().atMost(LONG).until(() -> "Healthy".equals(agent.api.status("other").get("phase")));
    Path file = io.vtrack.agent.proxy.Routes.file(agent.stateDir);
    String good = java.nio.file.Files.readString(file);
    java.nio.file.Files.writeString(file, good.substring(0, good.length() / 2));
    awaitRoutesRestored(file, 0);
    assertThat(runningVersion()).isEqualTo("1.0.0");

    long pid = ((Number) ((Map<String, Object>) status().get("proxy")).get("pid")).longValue();
    int restored = routesRestored();
    java.nio.file.Files.delete(file);
    ProcessHandle.of(pid).orElseThrow().destroyForcibly();
    awaitRoutesRestored(file, restored);
    awaitProxyReplaced(pid);
    // The other deployment's addresses came back with them.
    await()
        .atMost(LONG)
        .ignoreExceptions()
        .until(
            () ->
                "1.0.0"
                    .equals(
                        Api.appJson("http://127.0.0.1:" + otherBackend + "/api/health")
                            .get("version")));
  }

  /** A dev copy of the document on the public ports given. */
  private void devCopy(int backend, int frontend) throws Exception {
    app.commitDocument(
        "vtrack-dev.yaml",
        app.document("vtrack-dev", "v2", backend, frontend, app.extraSpec)
            .replace("http://127.0.0.1:" + backend, "http://127.0.0.1:${port:backend}")
            .replace("http://127.0.0.1:" + frontend, "http://127.0.0.1:${port:frontend}"));
  }

  /**
   * A copy of the document for a dev build, its public addresses left as they were: the running
   * deployment keeps them and goes on serving its own release; the copy is Stalled naming the
   * address and who has it, and runs nothing until it is given addresses of its own.
   */
  @Test
  void aSecondDeploymentExposingTheSameAddressIsRefusedAndTakesNothing() throws Exception {
    String v1 = deployHealthy("v1");
    app.goodUpgrade("2.0.0", "v2");
    devCopy(app.backendPort, app.frontendPort);
    awaitStalled(
        "vtrack-dev",
        "InvalidSpec",
        "spec.runtime.services[0].expose.listen: the public address 127.0.0.1:"
            + app.backendPort
            + " belongs to deployment 'vtrack', which serves it");
    assertThat(runningVersion()).isEqualTo("1.0.0");
    assertThat(status().get("phase")).isEqualTo("Healthy");
    assertThat(status().get("currentCommit")).isEqualTo(v1);
    try (var store = io.vtrack.agent.store.StateStore.open(agent.stateDir)) {
      assertThat(store.instances().all())
          .extracting(io.vtrack.agent.store.Instance::deployment)
          .doesNotContain("vtrack-dev");
    }
    assertThat(
            io.vtrack.agent.proxy.Routes.read(io.vtrack.agent.proxy.Routes.file(agent.stateDir))
                .routes())
        .extracting(io.vtrack.agent.proxy.Routes.Route::deployment)
        .doesNotContain("vtrack-dev");

    int devBackend = TestApp.freePort();
    devCopy(devBackend, TestApp.freePort());
    await().atMost(LONG).until(() -> "Healthy".equals(agent.api.status("vtrack-dev").get("phase")));
    assertThat(Api.appJson("http://127.0.0.1:" + devBackend + "/api/health").get("version"))
        .isEqualTo("2.0.0");
    assertThat(runningVersion()).isEqualTo("1.0.0");
  }

  /**
   * Until routes.json routes the live instance again and more routes were restored than {@code
   * before} (by either deployment: the first to switch gives the other's back too).
   */
  private void awaitRoutesRestored(Path file, int before) {
    await()
        .atMost(LONG)
        .pollInterval(Duration.ofMillis(100))
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              var routes =
                  io.vtrack.agent.proxy.Routes.read(file).routes().stream()
                      .filter(r -> app.name.equals(r.deployment()))
                      .toList();
              Map<String, Object> live = instance("Live");
              assertThat(routes)
                  .extracting(io.vtrack.agent.proxy.Routes.Route::upstream)
                  .containsExactlyInAnyOrder(
                      ((Map<String, Object>) live.get("ports"))
                          .values().stream().map(p -> "127.0.0.1:" + p).toArray(String[]::new));
              assertThat(routesRestored()).isGreaterThan(before);
            });
  }

  /** RoutesRestored events of both deployments of the routes test. */
  private int routesRestored() throws Exception {
    try (StateStore s = StateStore.open(agent.stateDir)) {
      int n = 0;
      for (String d : List.of(app.name, "other")) {
        n +=
            (int)
                s.events().of(d, 1000).stream()
                    .filter(e -> "RoutesRestored".equals(e.get("type")))
                    .count();
      }
      return n;
    }
  }

  /** Until the deployment's status says the proxy is (un)healthy, with a message saying why. */
  private void awaitProxy(boolean healthy, String why) {
    awaitProxy(healthy, why, null);
  }

  /** As above, and the proxy's pid is {@code pid} (null: any). */
  private void awaitProxy(boolean healthy, String why, Long pid) {
    await()
        .atMost(LONG)
        .pollInterval(Duration.ofMillis(100))
        .untilAsserted(
            () -> {
              Map<String, Object> proxy = (Map<String, Object>) status().get("proxy");
              assertThat(proxy.get("healthy")).as("proxy %s", proxy).isEqualTo(healthy);
              if (why == null) {
                assertThat(proxy.get("message")).isNull();
              } else {
                assertThat(String.valueOf(proxy.get("message"))).contains(why);
              }
              if (pid != null) {
                assertThat(((Number) proxy.get("pid")).longValue()).isEqualTo(pid);
              }
            });
  }

  @Test
  void aPublicAddressLostWhileLiveIsSaidWithoutWaitingForAnotherEvent() throws Exception {
    // No poll in the meantime either: every poll reconciles, and publishes the status afresh.
    app.deploy("v1");
    start("1h");
    awaitPhase("Healthy", commitOf("v1"));
    String taken = "cannot listen on 127.0.0.1:" + app.frontendPort;
    // The proxy dies, and another process takes the frontend's public address before the agent has
    // the proxy back (should the new proxy be first, it dies again).
    var other = new java.util.concurrent.atomic.AtomicReference<java.net.ServerSocket>();
    await()
        .atMost(LONG)
        .until(
            () -> {
              var state = io.vtrack.agent.proxy.ProxyState.read(agent.stateDir);
              if (state == null) {
                return false;
              }
              ProcessHandle proxy = ProcessHandle.of(state.pid()).orElse(null);
              if (proxy != null) {
                proxy.destroyForcibly();
                proxy.onExit().get();
              }
              try {
                other.set(
                    new java.net.ServerSocket(
                        app.frontendPort, 50, java.net.InetAddress.getLoopbackAddress()));
                return true;
              } catch (java.net.BindException newProxyFirst) {
                return false;
              }
            });
    try (java.net.ServerSocket holder = other.get()) {
      awaitProxy(false, taken);
    }
    // Free again: the proxy listens within its second, and the status says healthy by itself.
    awaitProxy(true, null);
    assertThat(runningVersion()).isEqualTo("1.0.0");
  }

  @Test
  void aPublicAddressTakenByAnotherProcessIsSaidByNameAndServedOnceFree() throws Exception {
    String taken = "cannot listen on 127.0.0.1:" + app.frontendPort;
    try (java.net.ServerSocket other =
        new java.net.ServerSocket(
            app.frontendPort, 50, java.net.InetAddress.getLoopbackAddress())) {
      app.deploy("v1");
      start("300ms");
      // Verified on its own ports, then the switch cannot take the public address: said by name
      // (not Healthy, nothing reported as served), retried.
      await()
          .atMost(LONG)
          .pollInterval(Duration.ofMillis(100))
          .untilAsserted(
              () -> {
                Map<String, Object> st = status();
                assertThat(String.valueOf(st.get("message"))).as("status %s", st).contains(taken);
                Map<String, Object> proxy = (Map<String, Object>) st.get("proxy");
                assertThat(proxy).as("status %s", st).isNotNull();
                assertThat(proxy.get("healthy")).isEqualTo(false);
                assertThat(String.valueOf(proxy.get("message"))).contains(taken);
              });
      assertThat(status().get("phase")).isNotEqualTo("Healthy");
    }
    String v1 = commitOf("v1");
    awaitPhase("Healthy", v1);
    await().atMost(LONG).until(() -> "1.0.0".equals(runningVersion()));
    // The frontend's public address, the one that was taken, is served now.
    var page =
        java.net.http.HttpClient.newHttpClient()
            .send(
                java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create("http://127.0.0.1:" + app.frontendPort + "/"))
                    .timeout(Duration.ofSeconds(10))
                    .build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
    assertThat(page.statusCode()).isEqualTo(200);
    Map<String, Object> st = status();
    assertThat(String.valueOf(st.get("message"))).doesNotContain(taken);
    assertThat(((Map<String, Object>) st.get("proxy")).get("healthy")).isEqualTo(true);
  }

  /** A bad revision of each kind under a polling user: rolled back, never served. */
  private void neverServed(String what, java.util.concurrent.Callable<String> badCommit)
      throws Exception {
    String v1 = deployHealthy("v1");
    try (PollingClient user = user()) {
      await().atMost(LONG).until(() -> user.ok.get() > 10);
      String bad = badCommit.call();
      app.deploy("v2");
      awaitPhase("RolledBack", v1);
      user.close();
      System.out.println(what + " under load: " + user);
      assertThat(user.failures).as("failed requests while %s was tried", what).isEmpty();
      assertThat((List<Object>) status().get("quarantinedCommits")).containsExactly(bad);
    }
    assertThat(runningVersion()).isEqualTo("1.0.0");
  }

  @Test
  void aCrashAtStartupIsNeverServed() throws Exception {
    neverServed("a crash at startup", () -> app.crashAtStartup("v2"));
  }

  @Test
  void aSlowRevisionIsNeverServed() throws Exception {
    app.extraChecks =
        """
              - name: latency
                latency: {url: "http://127.0.0.1:%d/api/config/get-sources", samples: 5, maxIncrease: 50%%, minDelta: 100ms}
        """
            .formatted(app.backendPort);
    neverServed("a slower revision", () -> app.slowerEndpoint("v2"));
    // Judged against the live instance sampled beside it, not only the stored baseline.
    @SuppressWarnings("unchecked")
    Map<String, Object> last = (Map<String, Object>) status().get("lastRollout");
    assertThat(String.valueOf(last.get("message"))).contains("on the live instance, side by side");
  }

  @Test
  void aLogFloodIsNeverServed() throws Exception {
    app.extraChecks = NO_ERRORS;
    neverServed(
        "a log flood",
        () -> {
          app.edit(
              "backend/app.py",
              s ->
                  s.replace(
                      "    def route(self, conn):\n",
                      "    def route(self, conn):\n        log.error(\"cannot reach camera %s\", self.path)\n"));
          return app.commitApp("Noisy", "v2");
        });
  }

  /**
   * An error the candidate logs between rounds 30 s apart: its own output file (the instance's
   * logs/<colour>/backend.log) is counted when written, so it fails long before the next round, and
   * users never reach it.
   */
  @Test
  void anErrorLoggedBetweenRoundsIsCaughtWhenWritten() throws Exception {
    app.extraChecks = NO_ERRORS;
    neverServed(
        "an error logged 3 s after start",
        () -> {
          app.timings = "startupTimeout: 60s\n    interval: 30s\n    window: 60s";
          return app.logsErrorAfter(3, "v2");
        });
    @SuppressWarnings("unchecked")
    Map<String, Object> last = (Map<String, Object>) status().get("lastRollout");
    assertThat(last.get("reason")).isEqualTo("WindowFailed");
    assertThat(String.valueOf(last.get("message"))).contains("no-errors", "db write failed");
    assertThat(((Number) last.get("durationMs")).longValue()).isLessThan(25_000);
  }

  @Test
  void deletedRowsAreRestoredUnderTheLiveInstance() throws Exception {
    String v1 = deployHealthy("v1");
    Path db =
        agent.stateDir.resolve("deployments/" + app.name + "/shared/backend/database/events.db");
    long before = rows(db);
    try (PollingClient user = user()) {
      await().atMost(LONG).until(() -> user.ok.get() > 10);
      app.deleteRowsInMigration("v2");
      app.deploy("v2");
      awaitPhase("RolledBack", v1);
      await().atMost(LONG).until(() -> user.ok.get() > 20);
      user.close();
      // The live instance restarts on the restored data; its users' requests wait in the proxy
      // meanwhile (the slowest answer says how long), and none fails.
      System.out.println("deleted rows, restored under the live instance: " + user);
      assertThat(user.failures).as("failed requests while the live instance restarted").isEmpty();
    }
    assertThat(rows(db)).isEqualTo(before);
    List<Map<String, Object>> steps =
        (List<Map<String, Object>>) agent.api.history(app.name).get(0).get("steps");
    assertThat(steps).anySatisfy(s -> assertThat(s.get("name")).isEqualTo("restore"));
  }

  static long rows(Path db) throws Exception {
    try (var c = java.sql.DriverManager.getConnection("jdbc:sqlite:" + db);
        var rs = c.createStatement().executeQuery("SELECT COUNT(*) FROM video_sources")) {
      return rs.getLong(1);
    }
  }

  @Test
  void theProxyKilledUnderLoadIsBackWithinMoments() throws Exception {
    deployHealthy("v1");
    long pid = ((Number) ((Map<String, Object>) status().get("proxy")).get("pid")).longValue();
    try (PollingClient user = user()) {
      await().atMost(LONG).until(() -> user.ok.get() > 10);
      ProcessHandle.of(pid).orElseThrow().destroyForcibly();
      int okAtKill = user.ok.get();
      await().atMost(LONG).until(() -> user.ok.get() > okAtKill + 20);
      user.close();
      // Nothing serves the public address while the proxy is down: reported, not hidden.
      System.out.println("switch proxy SIGKILLed under load: " + user);
    }
    var state = io.vtrack.agent.proxy.ProxyState.read(agent.stateDir);
    assertThat(state.pid()).isNotEqualTo(pid);
    assertThat(runningVersion()).isEqualTo("1.0.0");
  }

  /** The switch proxy as a DaemonSet's sidecar would run it: its own process, not the agent's. */
  Process sidecar() throws Exception {
    return new ProcessBuilder(
            "java",
            "-jar",
            AgentProcess.JAR.toString(),
            "proxy",
            "--state-dir",
            agent.stateDir.toString())
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(tmp.resolve("sidecar.log").toFile()))
        .start();
  }

  @Test
  void aSidecarProxyThatStopsIsSaidAndNotReplacedByTheAgent() throws Exception {
    // proxy.external: a sidecar container runs the proxy; the agent must never start its own.
    app.deploy("v1");
    agent =
        new InProcessAgent(
            tmp,
            new io.vtrack.agent.config.AgentConfig(
                "it-agent",
                tmp.resolve("state").toString(),
                "127.0.0.1:0",
                null,
                List.of(),
                List.of(
                    new io.vtrack.agent.config.AgentConfig.SourceConfig(
                        new io.vtrack.agent.config.AgentConfig.GitSourceConfig(
                            app.deployUrl(),
                            "main",
                            ".",
                            io.vtrack.agent.model.Interval.parse("1h"),
                            tmp.resolve("webhook-secret").toString()),
                        null,
                        null)),
                null,
                null,
                null,
                new io.vtrack.agent.config.AgentConfig.Proxy(true),
                null));
    Process first = sidecar();
    Process second = null;
    try {
      awaitPhase("Healthy", commitOf("v1"));
      awaitProxy(true, null, first.pid());

      // The sidecar stops (its container restarts): said by itself, no proxy of the agent's.
      first.destroyForcibly();
      first.waitFor();
      awaitProxy(false, "the switch proxy (a sidecar: proxy.external) does not answer");
      assertThat(
              ProcessHandle.allProcesses()
                  .filter(p -> p.info().commandLine().orElse("").contains(" proxy --state-dir "))
                  .filter(
                      p -> p.info().commandLine().orElse("").contains(agent.stateDir.toString()))
                  .count())
          .as("switch proxies running on this state folder")
          .isZero();

      // Back: healthy again, serving the live instance on the public address.
      second = sidecar();
      awaitProxy(true, null, second.pid());
      await().atMost(LONG).until(() -> "1.0.0".equals(runningVersion()));
    } finally {
      first.destroyForcibly();
      if (second != null) {
        second.destroyForcibly();
      }
    }
  }

  /**
   * A document removed (deletionPolicy Stop) and the agent stopped as soon as the API says the
   * deployment is gone, as a script would: the agent lets the deletion finish before it exits, so
   * nothing of it is left running and no proxy keeps holding its public addresses.
   */
  @Test
  void anAgentStoppedRightAfterADeletionLeavesNothingRunning() throws Exception {
    deployHealthy("v1");
    assertThat(io.vtrack.agent.runtime.OrphanScan.find(agent.stateDir)).hasSizeGreaterThan(2);
    app.removeDocument();
    await()
        .atMost(LONG)
        .pollInterval(Duration.ofMillis(20))
        .until(() -> agent.api.get("/api/v1/deployments/" + app.name).status() == 404);
    agent.stopAgent();
    assertThat(io.vtrack.agent.runtime.OrphanScan.find(agent.stateDir))
        .as("processes started from the state folder")
        .isEmpty();
    for (int port : List.of(app.backendPort, app.frontendPort)) {
      try (var free = new java.net.ServerSocket()) {
        free.setReuseAddress(true);
        free.bind(new java.net.InetSocketAddress("127.0.0.1", port));
      }
    }
  }
}
