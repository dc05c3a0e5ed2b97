package io.vtrack.agent.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.github.dockerjava.core.DefaultDockerClientConfig;
import io.vtrack.agent.model.Reason;
import io.vtrack.agent.reconcile.ErrorMapping;
import io.vtrack.agent.reconcile.ReconcileError;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An engine that does not answer is said as such, and is the host's trouble. */
class EngineUnreachableExceptionTest {
  @TempDir Path tmp;

  @Test
  void anEngineWhoseSocketIsGoneIsSaidToNotAnswer() throws Exception {
    var config =
        DefaultDockerClientConfig.createDefaultConfigBuilder()
            .withDockerHost("unix://" + tmp.resolve("docker.sock"))
            .build();
    var docker = ComposeRuntime.client(config, Duration.ofSeconds(5));
    EngineContainers engine = new EngineContainers(docker, docker);
    assertThatThrownBy(() -> engine.containerStates("vtrack"))
        .isInstanceOf(EngineUnreachableException.class)
        .hasMessageStartingWith("the Docker Engine does not answer (");
    Throwable thrown = catchThrowable(() -> engine.containers("vtrack"));
    assertThat(thrown).isInstanceOf(EngineUnreachableException.class);
    ReconcileError error = ErrorMapping.classify(thrown);
    assertThat(error).isInstanceOf(ReconcileError.Transient.class);
    assertThat(error.reason()).isEqualTo(Reason.RuntimeUnavailable);
  }

  @Test
  void anyOtherFailureIsLeftAsItIs() {
    RuntimeException other = new IllegalStateException("no such container");
    assertThat(EngineUnreachableException.of(other)).isSameAs(other);
  }
}
