package io.vtrack.agent.reconcile;

import static org.assertj.core.api.Assertions.assertThat;

import io.vtrack.agent.store.Instance;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Who keeps a public address two documents expose: the deployment serving it, else neither. */
class PublicAddressesTest {
  private static final String LISTEN = "127.0.0.1:18080";
  private static final String FIELD = "spec.runtime.services[0].expose.listen";

  private static Instance live(String deployment, String listen) {
    String spec =
        "{\"runtime\":{\"services\":[{\"name\":\"backend\",\"command\":[\"python3\"],"
            + "\"expose\":{\"listen\":\""
            + listen
            + "\"}}]}}";
    return new Instance(
        deployment,
        "blue",
        "abc",
        Instance.Role.Live,
        Map.of("backend", 20001),
        spec,
        1L,
        null,
        null);
  }

  private static ReconcileError.Stalled blocker(String name, String other, Instance... live) {
    return PublicAddresses.blocker(
        name, List.of(new PublicAddresses.Shared(LISTEN, FIELD, List.of(other))), List.of(live));
  }

  @Test
  void theDeploymentServingAnAddressKeepsItAndTheOtherIsStalled() {
    assertThat(blocker("prod", "dev", live("prod", LISTEN))).isNull();
    assertThat(blocker("dev", "prod", live("prod", LISTEN)).message())
        .isEqualTo(
            FIELD
                + ": 127.0.0.1:18080 is the public address of deployment 'prod', which serves it:"
                + " two deployments cannot share one (give this one an address of its own)");
  }

  @Test
  void whileNeitherServesItBothAreStalled() {
    assertThat(blocker("prod", "dev", live("prod", "127.0.0.1:18081")).message())
        .contains("is exposed by deployment 'dev' too, and neither serves it yet");
    assertThat(blocker("dev", "prod").message())
        .contains("is exposed by deployment 'prod' too, and neither serves it yet");
  }

  @Test
  void twoServingItAlreadyAreBothStalled() {
    Instance[] both = {live("prod", LISTEN), live("dev", LISTEN)};
    assertThat(blocker("prod", "dev", both).message())
        .contains("deployment 'dev', which serves it");
    assertThat(blocker("dev", "prod", both).message())
        .contains("deployment 'prod', which serves it");
  }
}
