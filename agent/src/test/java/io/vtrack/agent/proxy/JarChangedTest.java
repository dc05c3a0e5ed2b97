package io.vtrack.agent.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import org.junit.jupiter.api.Test;

/**
 * A proxy whose jar was written over in place exits (the agent starts it again); any other failure
 * of a request or a reload never stops it.
 */
class JarChangedTest {
  @Test
  void onlyAClassThatCannotBeLoadedMeansTheJarChanged() {
    // As the proxy logged it when its jar was copied over while it ran.
    Throwable lost =
        new NoClassDefFoundError("io/micrometer/prometheusmetrics/PrometheusMeterRegistry$Format");
    assertThat(SwitchProxy.jarChanged(lost)).isTrue();
    assertThat(SwitchProxy.jarChanged(new RuntimeException("reload", lost))).isTrue();
    assertThat(SwitchProxy.jarChanged(new IOException("routes.json: not valid JSON"))).isFalse();
    assertThat(SwitchProxy.jarChanged(new SwitchProxy.ListenFailed("address in use"))).isFalse();
    assertThat(SwitchProxy.jarChanged(null)).isFalse();
  }
}
