package io.vtrack.agent.it;

import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.vertx5.Vertx5HttpClientFactory;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vtrack.agent.kube.KubeSource;
import io.vtrack.agent.kube.KubeStatusWriter;
import io.vtrack.agent.model.Phase;
import io.vtrack.agent.reconcile.DeploymentStatus;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;

/**
 * A benchmark, not a test (run by {@code bench/kube-scale.sh}; Failsafe never picks it up on its
 * own): M simulated agents — each its own agentName, client, informer, Leases and status writer,
 * the parts of the agent that talk to the API server — against fabric8's mock API server, with two
 * deployments each. Counts the requests by verb and resource at idle and while 10% of the
 * deployments roll out (six phase changes each), for M = 10, 100, 1000 ({@code -Dscale.agents}).
 *
 * <p>The mock server answers every request with a linear scan of everything it stores on one event
 * loop: past about a hundred agents it, not the agents, is what is measured. Agents are therefore
 * spread over mock servers of at most {@code -Dscale.perServer} (100) agents each; what an agent
 * sends does not depend on the others, since it watches only its own resources and renews only its
 * own Lease, and the counts are summed over the servers.
 */
class KubeScaleBench {
  static final String NS = "apps";
  static final int PER_AGENT = 2;
  static final int PER_SERVER = Integer.getInteger("scale.perServer", 100);
  static final List<Phase> ROLLOUT =
      List.of(
          Phase.Preparing,
          Phase.Validating,
          Phase.BackingUp,
          Phase.Deploying,
          Phase.Verifying,
          Phase.Healthy);

  /** The mock server logs every request: at a thousand agents, that is the bench's main load. */
  static final java.util.logging.Logger MOCK_LOG =
      java.util.logging.Logger.getLogger("io.fabric8.mockwebserver");

  @Test
  void agentsAgainstOneApiServer() throws Exception {
    MOCK_LOG.setLevel(java.util.logging.Level.WARNING);
    String sizes = System.getProperty("scale.agents", "10,100,1000");
    long window = Long.getLong("scale.window", 30);
    List<String> rows = new ArrayList<>();
    for (String m : sizes.split(",")) {
      rows.add(run(Integer.parseInt(m.trim()), window));
      System.out.println(rows.get(rows.size() - 1));
    }
    System.out.println("\nM agents x " + PER_AGENT + " deployments, " + window + " s windows:");
    rows.forEach(System.out::println);
  }

  /** Status writes the API servers answered since the last {@code takeCounts}. */
  static long statusWrites(List<KubeApiServer> apis) {
    long sum = 0;
    for (KubeApiServer api : apis) {
      var n = api.requests.get("PATCH vtrackdeployments/status");
      sum += n == null ? 0 : n.get();
    }
    return sum;
  }

  /** The requests of every server since the last call, summed by verb and resource. */
  static Map<String, Long> takeCounts(List<KubeApiServer> apis) {
    Map<String, Long> out = new java.util.TreeMap<>();
    for (KubeApiServer api : apis) {
      api.takeCounts().forEach((k, v) -> out.merge(k, v, Long::sum));
    }
    return out;
  }

  static DeploymentStatus status(Phase phase) {
    return new DeploymentStatus(
        1L,
        phase,
        phase.name(),
        "v1",
        "c1",
        "c1",
        "c1",
        List.of("c1"),
        List.of(),
        List.of(),
        List.of(),
        null,
        List.of(),
        List.of(),
        null);
  }

  String run(int agents, long window) throws Exception {
    Vertx vertx = Vertx.vertx();
    List<KubernetesClient> clients = new ArrayList<>();
    List<KubeSource> sources = new ArrayList<>();
    List<KubeApiServer> apis = new ArrayList<>();
    try {
      for (int i = 0; i < (agents + PER_SERVER - 1) / PER_SERVER; i++) {
        apis.add(new KubeApiServer());
      }
      for (int a = 0; a < agents; a++) {
        KubeApiServer api = apis.get(a / PER_SERVER);
        for (int d = 0; d < PER_AGENT; d++) {
          GenericKubernetesResource r =
              new GenericKubernetesResourceBuilder()
                  .withApiVersion("vtrack.io/v1alpha1")
                  .withKind("VTrackDeployment")
                  .withNewMetadata()
                  .withName("node-" + a + "-app-" + d)
                  .withNamespace(NS)
                  .addToLabels("vtrack.io/agent", "node-" + a)
                  .endMetadata()
                  .addToAdditionalProperties(
                      "spec", Map.of("source", Map.of("repoURL", "file:///x", "revision", "v1")))
                  .build();
          api.deployments(NS).resource(r).create();
        }
      }
      Map<String, Phase> phases = new ConcurrentHashMap<>();
      Context ctx = vertx.getOrCreateContext();
      List<KubeStatusWriter> writers = new ArrayList<>();
      long t0 = System.nanoTime();
      for (int a = 0; a < agents; a++) {
        KubeApiServer api = apis.get(a / PER_SERVER);
        KubernetesClient client =
            new KubernetesClientBuilder()
                .withConfig(new ConfigBuilder().withMasterUrl(api.url()).withNamespace(NS).build())
                .withHttpClientFactory(new Vertx5HttpClientFactory(vertx))
                .build();
        clients.add(client);
        KubeStatusWriter[] writer = new KubeStatusWriter[1];
        String mine = "node-" + a + "-app-";
        KubeSource src =
            new KubeSource(
                a,
                client,
                NS,
                "node-" + a,
                Duration.ofMinutes(5).toMillis(),
                KubeSource.Leases.DEFAULT,
                update ->
                    ctx.runOnContext(
                        v -> {
                          for (var doc : update.docs()) {
                            String name = doc.name();
                            if (name.startsWith(mine) && writer[0] != null) {
                              phases.putIfAbsent(name, Phase.Healthy);
                              writer[0].onStatus(name);
                            }
                          }
                        }));
        writer[0] =
            new KubeStatusWriter(
                vertx,
                src,
                "node-" + a,
                n -> {
                  Phase p = phases.get(n);
                  return p == null ? null : status(p);
                });
        writers.add(writer[0]);
        sources.add(src);
        src.start();
        if (a % 10 == 9) {
          // A DaemonSet starts its pods a few at a time: the next ten once these ten watch.
          List<KubeSource> batch = sources.subList(a - 9, a + 1);
          await()
              .atMost(Duration.ofMinutes(5))
              .until(() -> batch.stream().allMatch(KubeSource::synced));
        }
      }
      // Synced: every resource has its status from its own agent. Counted, not listed: a list
      // of every resource each second would be the bench's own load on the API server.
      await()
          .atMost(Duration.ofMinutes(10))
          .pollInterval(Duration.ofSeconds(1))
          .until(() -> statusWrites(apis) >= (long) agents * PER_AGENT);
      double syncSeconds = (System.nanoTime() - t0) / 1e9;
      Map<String, Long> sync = takeCounts(apis);
      long idleStart = System.nanoTime();
      // The measurement itself: what M quiet agents send in a window of this length.
      Thread.sleep(window * 1000);
      double idleSeconds = (System.nanoTime() - idleStart) / 1e9;
      Map<String, Long> idle = takeCounts(apis);
      // 10% of the deployments roll out: six status changes each, the next once the last is
      // written.
      List<String> rolling = new ArrayList<>();
      for (int a = 0; a < agents; a += 10) {
        rolling.add("node-" + a + "-app-0");
      }
      long busyStart = System.nanoTime();
      for (Phase p : ROLLOUT) {
        long written = statusWrites(apis) + rolling.size();
        ctx.runOnContext(
            v -> {
              for (String name : rolling) {
                phases.put(name, p);
                writers.get(Integer.parseInt(name.split("-")[1])).onStatus(name);
              }
            });
        await().atMost(Duration.ofMinutes(2)).until(() -> statusWrites(apis) >= written);
      }
      // The rest of the window, as for idle: the measurement is the window.
      long left = window * 1000 - (System.nanoTime() - busyStart) / 1_000_000;
      Thread.sleep(Math.max(0, left));
      double busySeconds = (System.nanoTime() - busyStart) / 1e9;
      Map<String, Long> busy = takeCounts(apis);
      return String.format(
          "M=%d on %d mock API server(s): first sync %.1f s %s%n  idle %.3f writes/s per agent, %d lists: %s%n"
              + "  10%% rolling out %.3f writes/s per agent: %s",
          agents,
          apis.size(),
          syncSeconds,
          sync,
          KubeApiServer.writes(idle) / idleSeconds / agents,
          idle.entrySet().stream()
              .filter(e -> e.getKey().startsWith("LIST "))
              .mapToLong(Map.Entry::getValue)
              .sum(),
          idle,
          KubeApiServer.writes(busy) / busySeconds / agents,
          busy);
    } finally {
      sources.forEach(KubeSource::close);
      clients.forEach(KubernetesClient::close);
      vertx.close();
      apis.forEach(KubeApiServer::close);
    }
  }
}
