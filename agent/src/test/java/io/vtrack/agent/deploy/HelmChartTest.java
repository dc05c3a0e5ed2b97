package io.vtrack.agent.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Helm chart under {@code helm/vtrack-agent}, linted and rendered by real Helm (helm-java), the
 * rendered objects parsed with fabric8's model and compared with {@code manifests/}.
 */
class HelmChartTest {
  static final Path CHART = Path.of("..", "helm", "vtrack-agent").toAbsolutePath().normalize();
  static final Path MANIFESTS = Path.of("..", "manifests").toAbsolutePath().normalize();

  @TempDir Path tmp;

  static List<HasMetadata> parse(String yaml) {
    List<HasMetadata> out = new ArrayList<>();
    for (String doc : yaml.split("(?m)^---\\s*$")) {
      if (doc.lines().anyMatch(l -> l.startsWith("kind:"))) {
        out.add(Serialization.unmarshal(doc, HasMetadata.class));
      }
    }
    return out;
  }

  static Set<String> kindsAndNames(List<HasMetadata> objects) {
    Set<String> out = new TreeSet<>();
    for (HasMetadata o : objects) {
      out.add(o.getKind() + "/" + o.getMetadata().getName());
    }
    return out;
  }

  String render(String... values) {
    var t =
        new Helm(CHART)
            .template()
            .withName("vtrack-agent")
            .withNamespace("vtrack-system")
            .withKubeVersion("1.31.0");
    for (int i = 0; i < values.length; i += 2) {
      t = t.set(values[i], values[i + 1]);
    }
    return t.call();
  }

  @Test
  void theChartLintsClean() {
    LintResult r = new Helm(CHART).lint().strict().call();
    assertThat(r.isFailed()).as("%s", r.getMessages()).isFalse();
  }

  @Test
  void theDefaultRenderIsTheSameObjectsAsTheManifests() throws Exception {
    List<HasMetadata> rendered = parse(render());
    List<HasMetadata> manifests = new ArrayList<>();
    try (Stream<Path> files = Files.list(MANIFESTS)) {
      for (Path f : files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList()) {
        if (!f.getFileName().toString().equals("kustomization.yaml")) {
          manifests.addAll(parse(Files.readString(f)));
        }
      }
    }
    Set<String> fromManifests = kindsAndNames(manifests);
    // The chart installs into the release's namespace and creates the token Secret itself; its
    // CRD comes from crds/, which Helm installs without rendering.
    fromManifests.remove("Namespace/vtrack-system");
    fromManifests.remove("CustomResourceDefinition/vtrackdeployments.vtrack.io");
    Set<String> fromChart = kindsAndNames(rendered);
    assertThat(fromChart.remove("Secret/vtrack-agent-token")).isTrue();
    assertThat(fromChart).isEqualTo(fromManifests);

    DaemonSet ds = find(rendered, DaemonSet.class);
    DaemonSet plain = find(manifests, DaemonSet.class);
    var c = ds.getSpec().getTemplate().getSpec().getContainers().get(0);
    var p = plain.getSpec().getTemplate().getSpec().getContainers().get(0);
    assertThat(c.getImage()).isEqualTo(p.getImage());
    assertThat(c.getArgs()).isEqualTo(p.getArgs());
    assertThat(c.getSecurityContext().getReadOnlyRootFilesystem()).isTrue();
    assertThat(c.getLivenessProbe().getHttpGet().getPath()).isEqualTo("/healthz");
    assertThat(c.getReadinessProbe().getHttpGet().getPath()).isEqualTo("/readyz");
    assertThat(c.getResources()).isEqualTo(p.getResources());
    assertThat(c.getEnv().get(0).getValueFrom().getFieldRef().getFieldPath())
        .isEqualTo("spec.nodeName");
    assertThat(ds.getSpec().getTemplate().getSpec().getHostNetwork()).isTrue();
    // The switch proxy sidecar: same image, the agent's state folder and token.
    var proxy = ds.getSpec().getTemplate().getSpec().getContainers().get(1);
    var plainProxy = plain.getSpec().getTemplate().getSpec().getContainers().get(1);
    assertThat(proxy.getName()).isEqualTo("proxy").isEqualTo(plainProxy.getName());
    assertThat(proxy.getImage()).isEqualTo(c.getImage());
    assertThat(proxy.getArgs())
        .isEqualTo(plainProxy.getArgs())
        .containsSubsequence("--state-dir", "/var/lib/vtrack");
    // Started with the class-data archive the image's build made of the proxy.
    assertThat(proxy.getCommand())
        .isEqualTo(plainProxy.getCommand())
        .contains(
            "-XX:SharedArchiveFile=/opt/vtrack/vtrack-proxy.jsa", "/opt/vtrack/vtrack-agent.jar");
    assertThat(proxy.getResources()).isEqualTo(plainProxy.getResources());
    assertThat(proxy.getVolumeMounts()).isEqualTo(plainProxy.getVolumeMounts());
    assertThat(find(rendered, ClusterRole.class).getRules())
        .isEqualTo(find(manifests, ClusterRole.class).getRules());
    assertThat(find(rendered, ConfigMap.class).getData().get("agent.yaml"))
        .isEqualTo(find(manifests, ConfigMap.class).getData().get("agent.yaml"));
  }

  @Test
  void nonDefaultValuesRender() {
    List<HasMetadata> rendered =
        parse(
            render(
                "agent.watchNamespace", "apps",
                "apiToken.existingSecret", "my-token",
                "service.enabled", "false",
                "image.tag", "1.2.3",
                "nodeSelector.vtrack\\.io/role", "edge"));
    Set<String> names = kindsAndNames(rendered);
    assertThat(names).noneMatch(n -> n.startsWith("Secret/") || n.startsWith("Service/"));
    assertThat(find(rendered, ConfigMap.class).getData().get("agent.yaml"))
        .contains("kubernetes: {namespace: \"apps\"}");
    var pod = find(rendered, DaemonSet.class).getSpec().getTemplate().getSpec();
    assertThat(pod.getContainers().get(0).getImage()).isEqualTo("vtrack/agent:1.2.3");
    assertThat(pod.getNodeSelector()).containsEntry("vtrack.io/role", "edge");
    assertThat(pod.getVolumes())
        .anySatisfy(
            v ->
                assertThat(v.getSecret() == null ? null : v.getSecret().getSecretName())
                    .isEqualTo("my-token"));
  }

  @Test
  @SuppressWarnings("unchecked")
  void thePrometheusRuleAndTheDashboardAreOffByDefaultAndRenderTheShippedFiles() throws Exception {
    assertThat(kindsAndNames(parse(render())))
        .noneMatch(n -> n.startsWith("PrometheusRule/") || n.endsWith("-dashboard"));
    List<HasMetadata> on =
        parse(render("prometheusRule.enabled", "true", "grafanaDashboard.enabled", "true"));
    var rule =
        (io.fabric8.kubernetes.api.model.GenericKubernetesResource)
            on.stream().filter(o -> "PrometheusRule".equals(o.getKind())).findFirst().orElseThrow();
    Map<String, Object> shipped =
        Serialization.unmarshal(
            Files.readString(
                Path.of("..", "packaging", "prometheus", "vtrack-alerts.yml")
                    .toAbsolutePath()
                    .normalize()),
            Map.class);
    assertThat(rule.getAdditionalProperties().get("spec")).isEqualTo(shipped);
    ConfigMap dashboard =
        on.stream()
            .filter(o -> o instanceof ConfigMap && o.getMetadata().getName().endsWith("-dashboard"))
            .map(ConfigMap.class::cast)
            .findFirst()
            .orElseThrow();
    assertThat(dashboard.getMetadata().getLabels()).containsEntry("grafana_dashboard", "1");
    Map<String, Object> json =
        Serialization.unmarshal(dashboard.getData().get("vtrack-agent.json"), Map.class);
    assertThat(json.get("uid")).isEqualTo("vtrack-agent");
    assertThat(String.valueOf(json.get("panels"))).contains("vtrack_deployment_phase");
  }

  @Test
  void unknownValuesAreRejectedByTheSchema() {
    assertThatThrownBy(() -> render("agent.watchNamspace", "apps"))
        .hasMessageContaining("watchNamspace");
  }

  static <T extends HasMetadata> T find(List<HasMetadata> objects, Class<T> type) {
    return objects.stream().filter(type::isInstance).map(type::cast).findFirst().orElseThrow();
  }
}
