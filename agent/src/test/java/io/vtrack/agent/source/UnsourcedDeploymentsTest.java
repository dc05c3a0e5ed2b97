package io.vtrack.agent.source;

import static org.assertj.core.api.Assertions.assertThat;

import io.vtrack.agent.store.DeploymentRepository.DeploymentRow;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** At startup only a source that answered removes a deployment it no longer gives. */
class UnsourcedDeploymentsTest {
  private static final String GIT = "git[0]:file:///srv/deploy.git#main:.";
  private static final String FILES = "file[1]:/etc/vtrack/deploy";

  private static DeploymentRow row(String name, String sourceId) {
    String source =
        sourceId == null
            ? null
            : DocumentReader.CANONICAL.writeValueAsString(
                new SourceRef("git", sourceId, null, name + ".yaml", 1, null, null, null));
    return new DeploymentRow(
        name, source, "{}", "gen-" + name, 1, false, null, null, null, null, null);
  }

  @Test
  void aSourceThatAnsweredWithoutADeploymentRemovesIt() {
    var d =
        UnsourcedDeployments.decide(
            List.of(row("gone", GIT), row("here", GIT)), Set.of("here"), Map.of(GIT, true));
    assertThat(d.removedNames()).containsExactly("gone");
    assertThat(d.held()).isEmpty();
  }

  @Test
  void aSourceThatHasNotAnsweredRemovesNothingAndItsFirstAnswerReplacesThePlaceholder() {
    var d =
        UnsourcedDeployments.decide(
            List.of(row("app", GIT), row("other", FILES)),
            Set.of(),
            Map.of(GIT, false, FILES, true));
    assertThat(d.removedNames()).containsExactly("other");
    assertThat(d.held()).containsOnlyKeys(GIT);
    DesiredDocument held = d.held().get(GIT).get(0);
    assertThat(held.name()).isEqualTo("app");
    assertThat(held.valid()).isFalse();
    assertThat(held.generation()).isEqualTo("gen-app");
    assertThat(held.errors().get(0).message())
        .contains(GIT)
        .contains("has not answered")
        .contains("left as it is");
  }

  @Test
  void aSourceLeftOutOfAgentYamlRemovesNothing() {
    var d = UnsourcedDeployments.decide(List.of(row("app", GIT)), Set.of(), Map.of());
    assertThat(d.removedNames()).isEmpty();
    assertThat(d.held()).containsOnlyKeys(UnsourcedDeployments.UNCONFIGURED);
    assertThat(d.held().get(UnsourcedDeployments.UNCONFIGURED).get(0).errors().get(0).message())
        .contains("git:file:///srv/deploy.git#main:.")
        .contains("not in agent.yaml any more");
  }

  @Test
  void sourcesAreMatchedWithoutTheirPlaceInAgentYaml() {
    // The same git source, now listed second: it answered without "gone", so "gone" goes.
    var d =
        UnsourcedDeployments.decide(
            List.of(row("gone", GIT)),
            Set.of(),
            Map.of("file[0]:/x", true, "git[1]:file:///srv/deploy.git#main:.", true));
    assertThat(d.removedNames()).containsExactly("gone");
  }

  @Test
  void aResourceRecordsOnlyItsKindAndIsHeldUntilEverySourceOfThatKindAnswered() {
    DeploymentRow kube =
        new DeploymentRow(
            "app",
            DocumentReader.CANONICAL.writeValueAsString(
                new SourceRef("kubernetes", "kubernetes", null, "ns/app", null, null, null, null)),
            "{}",
            "g3",
            1,
            false,
            null,
            null,
            null,
            null,
            null);
    String a = "kubernetes[0]:apps";
    String b = "kubernetes[1]:*";
    var d = UnsourcedDeployments.decide(List.of(kube), Set.of(), Map.of(a, true, b, false));
    assertThat(d.held()).containsOnlyKeys(b);
    d = UnsourcedDeployments.decide(List.of(kube), Set.of(), Map.of(a, true, b, true));
    assertThat(d.removedNames()).containsExactly("app");
    d = UnsourcedDeployments.decide(List.of(kube), Set.of(), Map.of(GIT, true));
    assertThat(d.held()).containsOnlyKeys(UnsourcedDeployments.UNCONFIGURED);
  }

  @Test
  void aPlaceholderForALeftOutSourceGoesWhenASourceGivesTheDeploymentAgain() {
    DesiredStateRegistry registry = new DesiredStateRegistry("edge-01");
    var d = UnsourcedDeployments.decide(List.of(row("vtrack", GIT)), Set.of(), Map.of());
    registry.update(
        UnsourcedDeployments.UNCONFIGURED, d.held().get(UnsourcedDeployments.UNCONFIGURED));
    assertThat(registry.get("vtrack").document().valid()).isFalse();
    SourceRef ref =
        new SourceRef("file", "file[0]:/d", null, "/d/vtrack.yaml", null, null, null, null);
    registry.update(
        "file[0]:/d",
        DocumentReader.read(
            io.vtrack.agent.model.Documents.VALID
                .replace("labels: {vtrack.io/agent: edge-01}", "labels: {}")
                .getBytes(java.nio.charset.StandardCharsets.UTF_8),
            ref,
            null));
    assertThat(registry.get("vtrack").duplicated()).isFalse();
    assertThat(registry.get("vtrack").document().valid()).isTrue();
  }

  @Test
  void aRowWithoutItsSourceIsRemovedOnlyWhenEverySourceAnswered() {
    assertThat(
            UnsourcedDeployments.decide(List.of(row("old", null)), Set.of(), Map.of(GIT, true))
                .removedNames())
        .containsExactly("old");
    assertThat(
            UnsourcedDeployments.decide(List.of(row("old", null)), Set.of(), Map.of(GIT, false))
                .removedNames())
        .isEmpty();
  }
}
