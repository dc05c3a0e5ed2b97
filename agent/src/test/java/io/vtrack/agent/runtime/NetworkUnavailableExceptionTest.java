package io.vtrack.agent.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What the usual fetching tools print when the network does not answer, against what they print
 * when a registry answered that something does not exist or a build failed. Each as npm 11, pip,
 * curl and git print it on this project's machines (Go as its toolchain words it).
 */
class NetworkUnavailableExceptionTest {
  @Test
  void npmRefusedNamesTheRequestThatFailedNotJustTheCode() {
    String out =
        """
        npm notice PING http://127.0.0.1:9/
        npm error code ECONNREFUSED
        npm error syscall connect
        npm error errno ECONNREFUSED
        npm error FetchError: request to http://127.0.0.1:9/-/ping failed, reason: connect ECONNREFUSED 127.0.0.1:9
        npm error     at ClientRequest.<anonymous> (/usr/lib/node_modules/npm/node_modules/minipass-fetch/lib/index.js:130:14)
        npm error   code: 'ECONNREFUSED',
        npm error   errno: 'ECONNREFUSED',
        npm error If you are behind a proxy, please make sure that the 'proxy' config is set properly.
        """;
    assertThat(NetworkUnavailableException.reported(out))
        .contains(
            "npm error FetchError: request to http://127.0.0.1:9/-/ping failed, reason: connect"
                + " ECONNREFUSED 127.0.0.1:9");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "npm error network request to http://nosuchhost.invalid/left-pad failed, reason:"
            + " getaddrinfo ENOTFOUND nosuchhost.invalid",
        "npm error network request to https://registry.npmjs.org/left-pad failed, reason:"
            + " getaddrinfo EAI_AGAIN registry.npmjs.org",
        "error An unexpected error occurred: \"https://registry.yarnpkg.com/react: ESOCKETTIMEDOUT\".",
        "WARNING: Retrying (Retry(total=0, connect=None, read=None, redirect=None, status=None))"
            + " after connection broken by 'NewConnectionError('<pip._vendor.urllib3.connection"
            + ".HTTPConnection object at 0x7fb93769ae50>: Failed to establish a new connection:"
            + " [Errno 111] Connection refused')': /simple/somepkg/",
        "WARNING: Retrying (Retry(total=4)) after connection broken by 'NameResolutionError(\"Failed"
            + " to resolve 'pypi.org' ([Errno -3] Temporary failure in name resolution)\")':"
            + " /simple/flask/",
        "urllib.error.URLError: <urlopen error [Errno 111] Connection refused>",
        "TimeoutError: [Errno 110] Connection timed out",
        "curl: (6) Could not resolve host: nosuchhost.invalid",
        "curl: (7) Failed to connect to 127.0.0.1 port 9 after 0 ms: Couldn't connect to server",
        "fatal: unable to access 'https://nosuchhost.invalid/x.git/': Could not resolve host:"
            + " nosuchhost.invalid",
        "go: github.com/acme/lib@v1.2.0: Get \"https://proxy.golang.org/github.com/acme/lib/@v/"
            + "v1.2.0.mod\": dial tcp: lookup proxy.golang.org on 127.0.0.53:53: no such host",
        "go: downloading: Get \"http://127.0.0.1:9/mod\": dial tcp 127.0.0.1:9: connect: connection"
            + " refused",
        "Err:1 http://deb.debian.org/debian bookworm InRelease  Temporary failure resolving"
            + " 'deb.debian.org'",
      })
  void aNetworkThatDoesNotAnswerIsReportedWithItsLine(String line) {
    String out = "installing dependencies\n" + line + "\nnpm error A complete log of this run\n";
    assertThat(NetworkUnavailableException.reported(out)).contains(line.strip());
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        // A registry that answered: the package or version does not exist.
        "npm error code E404\nnpm error 404 Not Found - GET http://127.0.0.1:18555/left-padd"
            + " - Not found",
        "npm error code ETARGET\nnpm error notarget No matching version found for left-pad@9.9.9.",
        "ERROR: Could not find a version that satisfies the requirement somepkg (from versions:"
            + " none)\nERROR: No matching distribution found for somepkg",
        // The commit's own build or script.
        "src/App.jsx:12:7: ERROR: Expected \";\" but found \"return\"",
        "Traceback (most recent call last):\n  File \"build.py\", line 3\nKeyError: 'data'",
        "error TS2322: Type 'string' is not assignable to type 'number'.",
        "connection refused by policy: not a network failure word for word",
      })
  void whatARegistryAnsweredOrABuildSaidIsNot(String out) {
    assertThat(NetworkUnavailableException.reported(out)).isEmpty();
    assertThat(NetworkUnavailableException.reported(null)).isEmpty();
  }

  @Test
  void aLongLineIsCut() {
    String line = "curl: (6) Could not resolve host: " + "x".repeat(1000);
    assertThat(NetworkUnavailableException.reported(line).orElseThrow()).hasSize(301).endsWith("…");
  }
}
