package io.vtrack.agent.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What the Docker Engine says when a registry cannot be reached, against what it says of images.
 */
class RegistryUnavailableExceptionTest {
  @ParameterizedTest
  @ValueSource(
      strings = {
        // Each as the engine 20.10 and docker-compose 1.29 print them on this project's machines.
        "ERROR: for cache  Get \"http://127.0.0.1:1/v2/\": dial tcp 127.0.0.1:1: connect:"
            + " connection refused",
        "Error response from daemon: Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup"
            + " registry-1.docker.io on 127.0.0.53:53: no such host",
        "Get \"https://registry-1.docker.io/v2/\": net/http: request canceled while waiting for"
            + " connection (Client.Timeout exceeded while awaiting headers)",
        "Get \"https://registry-1.docker.io/v2/\": net/http: TLS handshake timeout",
        "Head \"https://ghcr.io/v2/acme/app/manifests/1.2\": read tcp 127.0.0.1:51234->127.0.0.1:443:"
            + " read: connection reset by peer",
        "ERROR: Service 'backend' failed to build : Get https://registry-1.docker.io/v2/: EOF",
        "toomanyrequests: You have reached your pull rate limit. You may increase the limit by"
            + " authenticating and upgrading",
        "error pulling image configuration: received unexpected HTTP status: 503 Service"
            + " Unavailable",
      })
  void aRegistryThatCannotBeReachedIsTheHostsProblem(String output) {
    assertThat(RegistryUnavailableException.reported(output)).isTrue();
    IOException e =
        RegistryUnavailableException.classify(new IOException("pull failed: " + output));
    assertThat(e).isInstanceOf(RegistryUnavailableException.class);
    assertThat(e.getMessage())
        .startsWith("image registry unreachable: pull failed: ")
        .contains(output);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "Error response from daemon: manifest for 127.0.0.1:45123/vtit-missing:1 not found:"
            + " manifest unknown: manifest unknown",
        "ERROR: pull access denied for vtrack/no-such-image, repository does not exist or may"
            + " require 'docker login': denied: requested access to the resource is denied",
        "invalid reference format: repository name must be lowercase",
        // A step of the app's own Dockerfile that cannot reach something is the commit's to fix.
        "pip._vendor.urllib3.exceptions.NewConnectionError: Failed to establish a new connection:"
            + " [Errno 111] Connection refused",
        "The command '/bin/sh -c python3 -c \"import vtrack_no_such_module\"' returned a non-zero"
            + " code: 1",
      })
  void whatARegistryAnswersAboutAnImageIsTheCommits(String output) {
    assertThat(RegistryUnavailableException.reported(output)).isFalse();
    IOException e = new IOException(output);
    assertThat(RegistryUnavailableException.classify(e)).isSameAs(e);
  }
}
