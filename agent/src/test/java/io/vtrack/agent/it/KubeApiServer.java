package io.vtrack.agent.it;

import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.NamespacedKubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMixedDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.vertx5.Vertx5HttpClientFactory;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.dsl.HttpMethod;
import io.fabric8.mockwebserver.http.Buffer;
import io.fabric8.mockwebserver.http.Dispatcher;
import io.fabric8.mockwebserver.http.Headers;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.vertx.core.Vertx;
import java.io.InputStream;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import tools.jackson.databind.json.JsonMapper;

/**
 * fabric8's Kubernetes mock API server in CRUD mode on 127.0.0.1, with the committed CRD from
 * {@code crd/} installed, answering discovery ({@code /api}, {@code /apis}, ...) from the stored
 * CRDs as well, so that the real {@code kubectl} works against it.
 */
final class KubeApiServer implements AutoCloseable {
  static final Path CRD =
      Path.of("..", "crd", "vtrackdeployments.vtrack.io-v1.yml").toAbsolutePath().normalize();
  private static final JsonMapper JSON = JsonMapper.builder().build();

  final KubernetesMockServer server;
  final NamespacedKubernetesClient client;
  private final Vertx clientVertx = Vertx.vertx();
  private final KubernetesMixedDispatcher crud;
  private volatile boolean down;

  KubeApiServer() throws Exception {
    this(0, true);
  }

  /** On {@code port} (0: any), with the CRD installed or not (for kubectl to install it). */
  KubeApiServer(int port, boolean installCrd) throws Exception {
    crud = new KubernetesMixedDispatcher(new HashMap<>());
    Dispatcher d =
        new Dispatcher() {
          @Override
          public MockResponse dispatch(RecordedRequest req) {
            count(req);
            if (down) {
              return new MockResponse().setResponseCode(503).setBody("{\"kind\":\"Status\"}");
            }
            MockResponse disco = discovery(req);
            return disco != null ? disco : crud.dispatch(req);
          }
        };
    server =
        new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(), d, false);
    server.init(InetAddress.getByName("127.0.0.1"), port);
    // The test's client runs on a Vert.x instance this class owns and closes last (with the
    // default factory the client makes one and closes it itself, with any client derived from
    // it); the agents' clients run on their agents' own.
    client = server.createClient(new Vertx5HttpClientFactory(clientVertx));
    if (installCrd) {
      try (InputStream in = Files.newInputStream(CRD)) {
        client.apiextensions().v1().customResourceDefinitions().load(in).create();
      }
    }
  }

  /** The VTrackDeployment resources of {@code namespace}, through the test's own client. */
  io.fabric8.kubernetes.client.dsl.NonNamespaceOperation<
          io.fabric8.kubernetes.api.model.GenericKubernetesResource,
          io.fabric8.kubernetes.api.model.GenericKubernetesResourceList,
          io.fabric8.kubernetes.client.dsl.Resource<
              io.fabric8.kubernetes.api.model.GenericKubernetesResource>>
      deployments(String namespace) {
    return client
        .genericKubernetesResources(io.vtrack.agent.kube.KubeSource.CONTEXT)
        .inNamespace(namespace);
  }

  /** A desired-state document (YAML) as the resource {@code kubectl apply} would send. */
  io.fabric8.kubernetes.api.model.GenericKubernetesResource load(String namespace, String yaml) {
    return deployments(namespace)
        .load(
            new java.io.ByteArrayInputStream(
                yaml.getBytes(java.nio.charset.StandardCharsets.UTF_8)))
        .item();
  }

  /** A kubernetes source on {@code namespace} of this server, through {@code kubeconfig}. */
  static io.vtrack.agent.config.AgentConfig.SourceConfig source(String namespace, Path kubeconfig) {
    return new io.vtrack.agent.config.AgentConfig.SourceConfig(
        null,
        new io.vtrack.agent.config.AgentConfig.KubernetesSourceConfig(
            namespace, kubeconfig.toString()),
        null);
  }

  /** An agent named {@code agentName} on that source alone, its state in {@code stateDir}. */
  static io.vtrack.agent.config.AgentConfig agent(
      String agentName, Path stateDir, String namespace, Path kubeconfig) {
    return new io.vtrack.agent.config.AgentConfig(
        agentName,
        stateDir.toString(),
        "127.0.0.1:0",
        null,
        List.of(),
        List.of(source(namespace, kubeconfig)));
  }

  int port() {
    return server.getPort();
  }

  /** Requests the server answered, by "VERB resource" (list and watch apart from get). */
  final Map<String, java.util.concurrent.atomic.AtomicLong> requests =
      new java.util.concurrent.ConcurrentHashMap<>();

  private void count(RecordedRequest req) {
    String path = req.getPath();
    String query = path.contains("?") ? path.substring(path.indexOf('?') + 1) : "";
    String[] parts = (path.contains("?") ? path.substring(0, path.indexOf('?')) : path).split("/");
    // .../namespaces/<ns>/<resource>[/<name>[/status]]
    String resource = "?";
    boolean named = false;
    for (int i = 0; i < parts.length; i++) {
      if ("namespaces".equals(parts[i]) && i + 2 < parts.length) {
        resource = parts[i + 2];
        named = i + 3 < parts.length;
        if (i + 4 < parts.length) {
          resource = resource + "/" + parts[i + 4];
        }
      }
    }
    if ("?".equals(resource) && parts.length > 0) {
      resource = parts[parts.length - 1];
    }
    String verb = req.getMethod();
    if ("GET".equals(verb) && !named) {
      verb = query.contains("watch=true") ? "WATCH" : "LIST";
    }
    requests
        .computeIfAbsent(verb + " " + resource, k -> new java.util.concurrent.atomic.AtomicLong())
        .incrementAndGet();
  }

  /** The counts so far, and from now on from zero. */
  Map<String, Long> takeCounts() {
    Map<String, Long> out = new java.util.TreeMap<>();
    requests.forEach((k, v) -> out.put(k, v.getAndSet(0)));
    out.values().removeIf(v -> v == 0);
    return out;
  }

  /** Writes among {@code counts}: every verb that changes something. */
  static long writes(Map<String, Long> counts) {
    return counts.entrySet().stream()
        .filter(
            e ->
                e.getKey().startsWith("PUT ")
                    || e.getKey().startsWith("PATCH ")
                    || e.getKey().startsWith("POST ")
                    || e.getKey().startsWith("DELETE "))
        .mapToLong(Map.Entry::getValue)
        .sum();
  }

  String url() {
    return "http://127.0.0.1:" + port();
  }

  /** Makes every request fail with 503 (true) or answer again (false): an API server outage. */
  void setDown(boolean down) {
    this.down = down;
  }

  /** A kubeconfig for this server, written to {@code file}. */
  Path kubeconfig(Path file) throws Exception {
    Files.writeString(
        file,
        """
        apiVersion: v1
        kind: Config
        clusters:
          - name: mock
            cluster: {server: "%s"}
        users:
          - name: test
            user: {token: test-token}
        contexts:
          - name: mock
            context: {cluster: mock, user: test, namespace: default}
        current-context: mock
        """
            .formatted(url()));
    return file;
  }

  private MockResponse json(Object body) {
    return new MockResponse()
        .setResponseCode(200)
        .setHeader("Content-Type", "application/json")
        .setBody(JSON.writeValueAsString(body));
  }

  /** Discovery documents, built from the CRDs stored in the mock (query strings ignored). */
  private MockResponse discovery(RecordedRequest req) {
    if (!"GET".equals(req.getMethod())) {
      return null;
    }
    String path = req.getPath();
    int q = path.indexOf('?');
    if (q >= 0) {
      path = path.substring(0, q);
    }
    if (path.equals("/api")) {
      return json(Map.of("kind", "APIVersions", "versions", List.of("v1")));
    }
    if (path.equals("/api/v1")) {
      return json(
          resources(
              "v1",
              List.of(
                  resource("namespaces", "Namespace", false, List.of("ns")),
                  resource("events", "Event", true, List.of("ev")),
                  resource("configmaps", "ConfigMap", true, List.of("cm")),
                  resource("secrets", "Secret", true, List.of()))));
    }
    if (!path.equals("/apis") && !path.matches("/apis/[^/]+/[^/]+")) {
      return null;
    }
    Map<String, List<Map<String, Object>>> groups = groups();
    if (path.equals("/apis")) {
      List<Map<String, Object>> list = new ArrayList<>();
      for (String gv : groups.keySet()) {
        String group = gv.substring(0, gv.indexOf('/'));
        Map<String, Object> v =
            Map.of("groupVersion", gv, "version", gv.substring(gv.indexOf('/') + 1));
        list.add(Map.of("name", group, "versions", List.of(v), "preferredVersion", v));
      }
      return json(Map.of("kind", "APIGroupList", "apiVersion", "v1", "groups", list));
    }
    if (path.startsWith("/apis/")) {
      String gv = path.substring("/apis/".length());
      if (groups.containsKey(gv)) {
        return json(resources(gv, groups.get(gv)));
      }
    }
    return null;
  }

  private Map<String, List<Map<String, Object>>> groups() {
    Map<String, List<Map<String, Object>>> out = new LinkedHashMap<>();
    out.put(
        "apiextensions.k8s.io/v1",
        List.of(
            resource(
                "customresourcedefinitions", "CustomResourceDefinition", false, List.of("crd"))));
    out.put("coordination.k8s.io/v1", List.of(resource("leases", "Lease", true, List.of())));
    for (CustomResourceDefinition crd : storedCrds()) {
      var spec = crd.getSpec();
      for (var v : spec.getVersions()) {
        String gv = spec.getGroup() + "/" + v.getName();
        List<Map<String, Object>> rs = new ArrayList<>();
        Map<String, Object> r =
            resource(
                spec.getNames().getPlural(),
                spec.getNames().getKind(),
                "Namespaced".equals(spec.getScope()),
                spec.getNames().getShortNames() == null
                    ? List.of()
                    : spec.getNames().getShortNames());
        r.put("singularName", spec.getNames().getSingular());
        rs.add(r);
        Map<String, Object> status =
            resource(
                spec.getNames().getPlural() + "/status",
                spec.getNames().getKind(),
                "Namespaced".equals(spec.getScope()),
                List.of());
        status.put("verbs", List.of("get", "patch", "update"));
        rs.add(status);
        out.put(gv, rs);
      }
    }
    return out;
  }

  /** The CRDs in the mock's store, read through its own dispatcher (never a request to itself). */
  private List<CustomResourceDefinition> storedCrds() {
    MockResponse r =
        crud.dispatch(
            new RecordedRequest(
                "HTTP/1.1",
                HttpMethod.GET,
                "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                Headers.builder().build(),
                new Buffer()));
    String body = r.getBody() == null ? "{}" : r.getBody().readUtf8();
    return io.fabric8.kubernetes.client.utils.Serialization.unmarshal(
            body,
            io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionList.class)
        .getItems();
  }

  private static Map<String, Object> resource(
      String name, String kind, boolean namespaced, List<String> shortNames) {
    Map<String, Object> r = new LinkedHashMap<>();
    r.put("name", name);
    r.put("singularName", "");
    r.put("namespaced", namespaced);
    r.put("kind", kind);
    r.put(
        "verbs",
        List.of("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"));
    if (!shortNames.isEmpty()) {
      r.put("shortNames", shortNames);
    }
    return r;
  }

  private static Map<String, Object> resources(String gv, List<Map<String, Object>> list) {
    return Map.of(
        "kind", "APIResourceList", "apiVersion", "v1", "groupVersion", gv, "resources", list);
  }

  @Override
  public void close() {
    // Teardown only: a request still completing while event loops stop fails a close with "event
    // executor terminated" (seen in CI in KubeIdleIT's teardown). That is the race of stopping,
    // not a finding; it is printed whole, so that where it came from is seen.
    stopping(client::close);
    stopping(server::destroy);
    stopping(() -> clientVertx.close().await());
  }

  private static void stopping(Runnable close) {
    try {
      close.run();
    } catch (java.util.concurrent.RejectedExecutionException race) {
      System.out.println("mock API server: " + race.getMessage() + " while stopping:");
      race.printStackTrace(System.out);
    }
  }
}
