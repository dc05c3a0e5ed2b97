package io.vtrack.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.dsl.Resource;
import io.vtrack.agent.kube.KubeSource;
import io.vtrack.agent.model.Interval;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The kubernetes source against fabric8's mock API server (CRUD mode): a VTrackDeployment created
 * in the API is rolled out as real processes, its status written to the status subresource, spec
 * changes roll out, a bad commit is quarantined, a deletion waits for deletionPolicy behind the
 * finalizer, and an API server outage changes nothing that runs.
 */
class KubernetesIT extends AgentTestBase {
  static final String NS = "apps";
  KubeApiServer api;

  @BeforeEach
  void apiServer() throws Exception {
    api = new KubeApiServer();
  }

  @AfterEach
  void stopApiServer() throws Exception {
    if (agent != null) {
      agent.close();
    }
    api.close();
  }

  void startAgent() throws Exception {
    var kubeconfig = api.kubeconfig(tmp.resolve("kubeconfig"));
    agent = new InProcessAgent(tmp, List.of(KubeApiServer.source(NS, kubeconfig)));
  }

  @Test
  void anAgentHoldingALeaseStopsWhenItsClientAnswersOnTheStoppingThread() throws Exception {
    // One event loop: the agent's client gets its answers on the thread that stops the agent.
    // Letting go of a Lease there waited for an answer that thread was to deliver: stop never
    // ended.
    api.deployments(NS)
        .resource(
            api.load(
                NS,
                app.document(
                    "vtrack", "v1", app.backendPort, app.frontendPort, "  suspend: true\n")))
        .create();
    var kubeconfig = api.kubeconfig(tmp.resolve("kubeconfig"));
    agent =
        new InProcessAgent(
            tmp,
            KubeApiServer.agent("it-agent", tmp.resolve("state"), NS, kubeconfig),
            io.vertx.core.Vertx.vertx(new io.vertx.core.VertxOptions().setEventLoopPoolSize(1)));
    await()
        .atMost(LONG)
        .pollInterval(Duration.ofMillis(200))
        .until(() -> "Suspended".equals(crStatus().get("phase")));
    assertThat(leaseDurations())
        .as("Leases while the agent runs")
        .isNotEmpty()
        .allMatch(d -> d > 1);
    agent.vertx.close().await(30, java.util.concurrent.TimeUnit.SECONDS);
    // Let go, not left to expire: released, a Lease lasts 1 s, so another agent takes over at once.
    assertThat(leaseDurations()).as("Leases once the agent stopped").allMatch(d -> d <= 1);
  }

  /** The duration of each Lease in the namespace, in seconds. */
  private List<Integer> leaseDurations() {
    return api.client.leases().inNamespace(NS).list().getItems().stream()
        .map(l -> l.getSpec().getLeaseDurationSeconds())
        .toList();
  }

  Resource<GenericKubernetesResource> resource() {
    return api.deployments(NS).withName("vtrack");
  }

  /** What {@code kubectl apply} of the document for {@code revision} would store. */
  void apply(String revision) {
    String doc = app.document(revision);
    GenericKubernetesResource r = api.load(NS, doc);
    GenericKubernetesResource existing = resource().get();
    if (existing == null) {
      api.deployments(NS).resource(r).create();
    } else {
      // The agent writes the same object (status, finalizer): retry on a conflict, as kubectl does.
      await()
          .atMost(LONG)
          .ignoreExceptionsMatching(
              e ->
                  e instanceof io.fabric8.kubernetes.client.KubernetesClientException k
                      && k.getCode() == 409)
          .until(
              () -> {
                resource()
                    .edit(
                        x -> {
                          x.setAdditionalProperty("spec", r.getAdditionalProperties().get("spec"));
                          return x;
                        });
                return true;
              });
    }
  }

  @SuppressWarnings("unchecked")
  Map<String, Object> crStatus() {
    GenericKubernetesResource r = resource().get();
    Object st = r == null ? null : r.getAdditionalProperties().get("status");
    return st == null ? Map.of() : (Map<String, Object>) st;
  }

  void awaitCrStatus(String phase, String commit) {
    awaitCrStatus(phase, commit, LONG);
  }

  void awaitCrStatus(String phase, String commit, Duration atMost) {
    await()
        .atMost(atMost)
        .pollInterval(Duration.ofMillis(200))
        .untilAsserted(
            () -> {
              Map<String, Object> st = crStatus();
              assertThat(st.get("phase")).as("status %s", st).isEqualTo(phase);
              assertThat(st.get("currentCommit")).as("status %s", st).isEqualTo(commit);
            });
  }

  @Test
  @SuppressWarnings("unchecked")
  void aResourceIsRolledOutItsStatusWrittenAndItsDeletionWaitsForThePolicy() throws Exception {
    startAgent();
    apply("v1");
    String v1 = commitOf("v1");
    awaitPhase("Healthy", v1);
    awaitCrStatus("Healthy", v1);
    GenericKubernetesResource r = resource().get();
    assertThat(r.getMetadata().getFinalizers()).contains(KubeSource.FINALIZER);
    Map<String, Object> st = crStatus();
    assertThat(((Number) st.get("observedGeneration")).longValue())
        .isEqualTo(r.getMetadata().getGeneration());
    assertThat((List<Map<String, Object>>) st.get("conditions"))
        .anySatisfy(
            c -> {
              assertThat(c.get("type")).isEqualTo("Ready");
              assertThat(c.get("status")).isEqualTo("True");
              assertThat(c.get("lastTransitionTime")).isNotNull();
            });
    // Check rounds keep running every 200ms; the status subresource is not rewritten for them.
    String rv = resource().get().getMetadata().getResourceVersion();
    await()
        .during(Duration.ofSeconds(2))
        .atMost(Duration.ofSeconds(5))
        .until(() -> rv.equals(resource().get().getMetadata().getResourceVersion()));
    assertThat(api.client.v1().events().inNamespace(NS).list().getItems())
        .anySatisfy(
            e -> {
              assertThat(e.getInvolvedObject().getName()).isEqualTo("vtrack");
              assertThat(e.getReason()).isEqualTo("Healthy");
            });

    // A spec change is a new generation: a new rollout.
    String v2 = app.goodUpgrade("2.0.0", "v2");
    apply("v2");
    awaitCrStatus("Healthy", v2);
    assertThat(((Number) crStatus().get("observedGeneration")).longValue())
        .isEqualTo(resource().get().getMetadata().getGeneration());
    assertThat(runningVersion()).isEqualTo("2.0.0");

    // A commit that fails is quarantined, and the status says why.
    String bad = app.crashAtStartup("v3");
    apply("v3");
    awaitCrStatus("RolledBack", v2);
    assertThat((List<Object>) crStatus().get("quarantinedCommits")).containsExactly(bad);
    assertThat(((Map<String, Object>) crStatus().get("lastRollout")).get("reason"))
        .isEqualTo("ServiceExited");
    assertThat(api.client.v1().events().inNamespace(NS).list().getItems())
        .anySatisfy(
            e -> {
              assertThat(e.getReason()).isEqualTo("RolledBack");
              assertThat(e.getType()).isEqualTo("Warning");
            });

    // Deletion: the finalizer holds the resource until deletionPolicy Stop has stopped the app.
    resource().delete();
    await()
        .atMost(LONG)
        .pollInterval(Duration.ofMillis(200))
        .until(
            () -> {
              GenericKubernetesResource gone = resource().get();
              return runningVersion() == null
                  && (gone == null
                      || gone.getMetadata().getFinalizers() == null
                      || !gone.getMetadata().getFinalizers().contains(KubeSource.FINALIZER));
            });
    assertThat(agent.api.get("/api/v1/deployments/vtrack").status()).isEqualTo(404);
  }

  /**
   * A resource whose app repository never answers (a fetch from it ends only at {@code gitTimeout})
   * holds up neither another resource nor a change to it: updates waited for that fetch, one after
   * another.
   */
  @Test
  void anAppRepositoryThatNeverAnswersHoldsUpNoOtherResource() throws Exception {
    try (SilentServer silent = new SilentServer()) {
      api.deployments(NS)
          .resource(
              api.load(
                  NS,
                  app.document("stuck", "v1", TestApp.freePort(), TestApp.freePort(), "")
                      .replace(app.appDir.toUri().toString(), silent.repoUrl())))
          .create();
      var kubeconfig = api.kubeconfig(tmp.resolve("kubeconfig"));
      agent =
          new InProcessAgent(
              tmp, List.of(KubeApiServer.source(NS, kubeconfig)), Interval.parse("150s"));
      apply("v1");
      awaitCrStatus("Healthy", commitOf("v1"), Duration.ofSeconds(60));
      String v2 = app.goodUpgrade("2.0.0", "v2");
      apply("v2");
      awaitCrStatus("Healthy", v2, Duration.ofSeconds(60));
    }
  }

  @Test
  void anInvalidResourceStallsWithTheFieldNamed() throws Exception {
    startAgent();
    app.timings = "startupTimeout: 15s\n    interval: 2x\n    window: 1500ms";
    apply("v1");
    await()
        .atMost(LONG)
        .pollInterval(Duration.ofMillis(200))
        .untilAsserted(
            () -> {
              Map<String, Object> st = crStatus();
              assertThat(st.get("phase")).isEqualTo("Stalled");
              assertThat(st.toString()).contains("InvalidSpec").contains("spec.health.interval");
            });
    assertThat(runningVersion()).isNull();
  }

  /** An agent, v1 applied and Healthy; returns the backend's pid. */
  long agentWithV1Healthy() throws Exception {
    startAgent();
    apply("v1");
    awaitCrStatus("Healthy", commitOf("v1"));
    return backendPid();
  }

  @Test
  void anApiServerOutageChangesNothingThatRunsAndTheInformerCatchesUp() throws Exception {
    long pid = agentWithV1Healthy();
    api.setDown(true);
    // While the API server answers nothing, the app runs on and stays Healthy.
    await()
        .during(Duration.ofSeconds(3))
        .atMost(Duration.ofSeconds(10))
        .until(() -> "Healthy".equals(status().get("phase")) && "1.0.0".equals(runningVersion()));
    assertThat(backendPid()).isEqualTo(pid);
    api.setDown(false);
    String v2 = app.goodUpgrade("2.0.0", "v2");
    apply("v2");
    awaitCrStatus("Healthy", v2);
    assertThat(runningVersion()).isEqualTo("2.0.0");
  }

  /**
   * An agent (re)started while the API server is down: it starts without the list, leaves what runs
   * alone (the deployment held, Stalled, naming why) and catches up when the API answers.
   */
  @Test
  void anAgentStartedDuringAnApiServerOutageLeavesTheAppAloneAndCatchesUp() throws Exception {
    long pid = agentWithV1Healthy();
    String v1 = commitOf("v1");
    agent.stopAgent();
    api.setDown(true);
    java.util.concurrent.CompletableFuture<Void> started =
        java.util.concurrent.CompletableFuture.runAsync(
            () -> {
              try {
                startAgent();
              } catch (Exception e) {
                throw new IllegalStateException(e);
              }
            });
    // It does not wait for the API server (startup waits 15 s for a first list at most).
    await().atMost(Duration.ofSeconds(60)).until(started::isDone);
    started.get();
    await().atMost(Duration.ofSeconds(30)).until(() -> "Stalled".equals(status().get("phase")));
    assertThat(status().get("message").toString()).contains("has not answered");
    assertThat(backendPid()).isEqualTo(pid);
    assertThat("1.0.0").isEqualTo(runningVersion());
    api.setDown(false);
    awaitPhase("Healthy", v1);
    assertThat(backendPid()).isEqualTo(pid);
    assertThat(agent.api.history("vtrack")).hasSize(1);
  }

  String leaseHolder() {
    var lease = api.client.leases().inNamespace(NS).withName("vtrack-vtrack").get();
    return lease == null ? null : lease.getSpec().getHolderIdentity();
  }

  @Test
  void twoAgentsClaimingOneNameOnlyOneActsAndTheOtherTakesOverWhenTheHolderIsKilled()
      throws Exception {
    Path state = tmp.resolve("state");
    String sources =
        "  - kubernetes: {namespace: %s, kubeconfig: %s}"
            .formatted(NS, api.kubeconfig(tmp.resolve("kubeconfig")));
    apply("v1");
    String v1 = commitOf("v1");
    try (AgentProcess a = new AgentProcess(tmp.resolve("agent-a"), state, sources);
        AgentProcess b = new AgentProcess(tmp.resolve("agent-b"), state, sources)) {
      a.start();
      awaitCrStatus("Healthy", v1);
      String holderA = leaseHolder();
      assertThat(holderA).startsWith("it-agent_");
      // The same agentName on the same host (an old and a new DaemonSet pod): B stays out.
      b.start();
      await()
          .during(Duration.ofSeconds(3))
          .atMost(Duration.ofSeconds(10))
          .until(
              () ->
                  holderA.equals(leaseHolder())
                      && b.api().get("/api/v1/deployments/vtrack").status() == 404
                      && a.api().get("/api/v1/deployments/vtrack").status() == 200);
      long pid;
      try (var store = io.vtrack.agent.store.StateStore.open(state)) {
        assertThat(store.processes().of("vtrack")).as("%s\n%s", a.log(), b.log()).isNotEmpty();
        pid = store.processes().of("vtrack").get(0).pid();
      }

      a.kill();
      // Once A's lease expires, B takes it and adopts what runs: no restart, no rollout.
      await()
          .atMost(LONG)
          .pollInterval(Duration.ofMillis(300))
          .until(
              () ->
                  leaseHolder() != null
                      && !holderA.equals(leaseHolder())
                      && "Healthy".equals(b.api().status("vtrack").get("phase")));
      assertThat(leaseHolder()).startsWith("it-agent_");
      try (var store = io.vtrack.agent.store.StateStore.open(state)) {
        assertThat(store.processes().of("vtrack").get(0).pid()).isEqualTo(pid);
      }
      assertThat(runningVersion()).as("%s", b.log()).isEqualTo("1.0.0");
      assertThat(b.api().history("vtrack")).hasSize(1);

      // B acts on the next change.
      String v2 = app.goodUpgrade("2.0.0", "v2");
      apply("v2");
      awaitCrStatus("Healthy", v2);
      assertThat(runningVersion()).isEqualTo("2.0.0");
    } finally {
      InProcessAgent.killApp(state);
    }
  }
}
