package io.vtrack.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.vtrack.agent.kube.KubeSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The real {@code kubectl} against the mock API server (which answers discovery): the CRD and a
 * VTrackDeployment applied, read back as a table, as YAML and with the CRD's printer columns (the
 * mock does not render those; real servers do), then deleted. Each command and what it printed goes
 * to the test output.
 */
class KubectlIT extends AgentTestBase {
  KubeApiServer api;
  Path kubeconfig;

  @BeforeEach
  void apiServer() throws Exception {
    Assumptions.assumeTrue(
        Files.isExecutable(Path.of("/usr/bin/kubectl")) || onPath("kubectl"),
        "kubectl is not installed here");
    api = new KubeApiServer(0, false);
    kubeconfig = api.kubeconfig(tmp.resolve("kubeconfig"));
  }

  @AfterEach
  void stop() throws Exception {
    if (agent != null) {
      agent.close();
    }
    if (api != null) {
      api.close();
    }
  }

  static boolean onPath(String cmd) {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
      if (Files.isExecutable(Path.of(dir, cmd))) {
        return true;
      }
    }
    return false;
  }

  record Run(int exit, String output) {}

  Run kubectl(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("kubectl", "--kubeconfig", kubeconfig.toString()));
    cmd.addAll(List.of(args));
    Path out = tmp.resolve("kubectl.out");
    Process p =
        new ProcessBuilder(cmd)
            .redirectErrorStream(true)
            .redirectOutput(out.toFile())
            .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
            .start();
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("kubectl %s finished", List.of(args)).isTrue();
    String text = Files.readString(out);
    System.out.println("$ " + String.join(" ", cmd.subList(3, cmd.size())) + "\n" + text);
    return new Run(p.exitValue(), text);
  }

  @Test
  void kubectlAppliesReadsAndDeletesTheCrdAndAVTrackDeployment() throws Exception {
    Run crd = kubectl("apply", "--validate=false", "-f", KubeApiServer.CRD.toString());
    assertThat(crd.exit()).as(crd.output()).isZero();
    assertThat(crd.output())
        .contains(
            "customresourcedefinition.apiextensions.k8s.io/vtrackdeployments.vtrack.io created");

    agent = new InProcessAgent(tmp, List.of(KubeApiServer.source("apps", kubeconfig)));
    Path doc = tmp.resolve("vtrack.yaml");
    Files.writeString(doc, app.document("v1"));
    Run applied = kubectl("apply", "--validate=false", "-n", "apps", "-f", doc.toString());
    assertThat(applied.exit()).as(applied.output()).isZero();
    assertThat(applied.output()).contains("vtrackdeployment.vtrack.io/vtrack created");
    String v1 = commitOf("v1");
    awaitPhase("Healthy", v1);

    await()
        .atMost(LONG)
        .pollInterval(Duration.ofMillis(300))
        .until(
            () ->
                kubectl("get", "vtd", "vtrack", "-n", "apps", "-o", "yaml")
                    .output()
                    .contains("phase: Healthy"));
    Run yaml = kubectl("get", "vtd", "vtrack", "-n", "apps", "-o", "yaml");
    assertThat(yaml.output())
        .contains("kind: VTrackDeployment")
        .contains("currentCommit: " + v1)
        .contains(KubeSource.FINALIZER)
        .contains("observedGeneration: 1");

    Run table = kubectl("get", "vtd", "-n", "apps");
    assertThat(table.exit()).isZero();
    assertThat(table.output()).contains("NAME").contains("vtrack");

    // The printer columns, as a real API server would render them, from the CRD's own paths.
    CustomResourceDefinition def =
        Serialization.unmarshal(
            Files.readString(KubeApiServer.CRD), CustomResourceDefinition.class);
    List<String> columns = new ArrayList<>(List.of("NAME:.metadata.name"));
    StringBuilder row = new StringBuilder("vtrack");
    java.util.Map<String, String> expected =
        java.util.Map.of(
            ".status.phase", "Healthy",
            ".status.desiredRevision", "v1",
            ".status.currentCommit", v1,
            ".status.lastHealthyCommit", v1,
            ".metadata.creationTimestamp", "\\d{4}-\\d\\d-\\d\\dT\\S+");
    for (var c : def.getSpec().getVersions().get(0).getAdditionalPrinterColumns()) {
      columns.add(c.getName().toUpperCase().replace(' ', '_') + ":" + c.getJsonPath());
      row.append("\\s+").append(expected.get(c.getJsonPath()));
    }
    Run custom =
        kubectl("get", "vtd", "-n", "apps", "-o", "custom-columns=" + String.join(",", columns));
    assertThat(custom.exit()).isZero();
    assertThat(custom.output()).contains("PHASE").contains("LAST_HEALTHY").containsPattern(row);

    Run deleted = kubectl("delete", "vtd", "vtrack", "-n", "apps", "--wait=false");
    assertThat(deleted.exit()).as(deleted.output()).isZero();
    assertThat(deleted.output()).contains("vtrackdeployment.vtrack.io \"vtrack\" deleted");
    // deletionPolicy Stop ran behind the finalizer: the app is stopped, then the resource goes.
    await()
        .atMost(LONG)
        .pollInterval(Duration.ofMillis(300))
        .until(
            () ->
                runningVersion() == null
                    && !kubectl("get", "vtd", "vtrack", "-n", "apps", "-o", "yaml")
                        .output()
                        .contains(KubeSource.FINALIZER));
    Run crdGone = kubectl("delete", "--wait=false", "-f", KubeApiServer.CRD.toString());
    assertThat(crdGone.exit()).as(crdGone.output()).isZero();
  }
}
