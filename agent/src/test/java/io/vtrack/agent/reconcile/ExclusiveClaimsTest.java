package io.vtrack.agent.reconcile;

import static org.assertj.core.api.Assertions.assertThat;

import io.vtrack.agent.store.DeploymentRepository.DeploymentRow;
import io.vtrack.agent.store.Instance;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Who keeps a public address or a compose project two documents claim: the deployment that has it,
 * else neither.
 */
class ExclusiveClaimsTest {
  private static final String LISTEN = "127.0.0.1:18080";
  private static final String FIELD = "spec.runtime.services[0].expose.listen";

  private static String spec(String listen) {
    return "{\"runtime\":{\"services\":[{\"name\":\"backend\",\"command\":[\"python3\"],"
        + "\"expose\":{\"listen\":\""
        + listen
        + "\"}}]},\"strategy\":{\"blueGreen\":{}}}";
  }

  private static Instance live(String deployment, String listen) {
    return new Instance(
        deployment,
        "blue",
        "abc",
        Instance.Role.Live,
        Map.of("backend", 20001),
        spec(listen),
        1L,
        null,
        null);
  }

  private static ReconcileError.Stalled address(String name, String other, Instance... live) {
    return ExclusiveClaims.blocker(
        name,
        List.of(
            new ExclusiveClaims.Shared(
                ExclusiveClaims.Kind.ADDRESS, LISTEN, FIELD, List.of(other))),
        List.of(live),
        List.of());
  }

  @Test
  void theDeploymentServingAnAddressKeepsItAndTheOtherIsStalled() {
    assertThat(address("prod", "dev", live("prod", LISTEN))).isNull();
    assertThat(address("dev", "prod", live("prod", LISTEN)).message())
        .isEqualTo(
            FIELD
                + ": the public address 127.0.0.1:18080 belongs to deployment 'prod', which serves"
                + " it: two deployments cannot share one (give this one its own)");
  }

  @Test
  void whileNeitherHasAnAddressBothAreStalled() {
    assertThat(address("prod", "dev", live("prod", "127.0.0.1:18081")).message())
        .contains("is claimed by deployment 'dev' too, and neither has it yet");
    assertThat(address("dev", "prod").message())
        .contains("is claimed by deployment 'prod' too, and neither has it yet");
  }

  @Test
  void twoServingAnAddressAlreadyAreBothStalled() {
    Instance[] both = {live("prod", LISTEN), live("dev", LISTEN)};
    assertThat(address("prod", "dev", both).message()).contains("'dev', which serves it");
    assertThat(address("dev", "prod", both).message()).contains("'prod', which serves it");
  }

  @Test
  void aComposeProjectBelongsToTheDeploymentRunningIt() {
    String compose = "{\"runtime\":{\"type\":\"compose\",\"compose\":{\"project\":\"shop\"}}}";
    DeploymentRow running =
        new DeploymentRow(
            "shop-v1", "file", compose, "g", 1, false, "abc", "abc", null, compose, null);
    List<ExclusiveClaims.Shared> shared =
        List.of(
            new ExclusiveClaims.Shared(
                ExclusiveClaims.Kind.PROJECT,
                "shop",
                "spec.runtime.compose.project",
                List.of("shop-v1")));
    assertThat(ExclusiveClaims.blocker("shop-v2", shared, List.of(), List.of(running)).message())
        .isEqualTo(
            "spec.runtime.compose.project: the compose project shop belongs to deployment"
                + " 'shop-v1', which runs it: two deployments cannot share one (give this one its"
                + " own)");
    assertThat(ExclusiveClaims.blocker("shop-v1", shared, List.of(), List.of(running))).isNull();
  }

  @Test
  void aComposeDeploymentClaimsItsProjectAndItsColours() {
    var spec =
        Specs.parse("{\"runtime\":{\"type\":\"compose\",\"compose\":{\"project\":\"shop\"}}}");
    assertThat(ExclusiveClaims.claims("shop-v2", spec))
        .extracting(ExclusiveClaims.Claim::key)
        .containsExactly("shop", "shop-blue", "shop-green", "shop-preview");
    // Unnamed, the project is the deployment's name; a deployment named like another's colour
    // claims what that colour runs as.
    assertThat(
            ExclusiveClaims.claims(
                "vtrack-blue", Specs.parse("{\"runtime\":{\"type\":\"compose\"}}")))
        .extracting(ExclusiveClaims.Claim::key)
        .contains("vtrack-blue");
  }
}
