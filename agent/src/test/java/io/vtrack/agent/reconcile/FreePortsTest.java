package io.vtrack.agent.reconcile;

import static org.assertj.core.api.Assertions.assertThat;

import io.vtrack.agent.model.DeploymentSpec;
import io.vtrack.agent.model.DocumentParser;
import io.vtrack.agent.model.SpecValidator;
import io.vtrack.agent.store.Instance;
import io.vtrack.agent.store.StateStore;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The ports of a new instance: free, below the ephemeral range, kept apart from everything already
 * promised.
 */
class FreePortsTest {
  @TempDir Path dir;

  static DeploymentSpec spec(int publicPort) {
    String yaml =
        """
        apiVersion: vtrack.io/v1alpha1
        kind: VTrackDeployment
        metadata: {name: app}
        spec:
          source: {repoURL: /srv/app, revision: main}
          strategy: {blueGreen: {keepWarm: 1m}}
          runtime:
            services:
              - name: web
                command: [python3, -m, http.server, "${port:web}"]
                expose: {listen: "127.0.0.1:%d"}
        """
            .formatted(publicPort);
    var parsed = DocumentParser.parseAll(yaml, "test.yaml", SpecValidator.Context.FILE).get(0);
    assertThat(parsed.errors()).isEmpty();
    return parsed.document().spec();
  }

  /** Ports the kernel hands out for port 0 right now, released again. */
  static List<Integer> recentlyFree(int n) throws Exception {
    List<ServerSocket> sockets = new ArrayList<>();
    try {
      for (int i = 0; i < n; i++) {
        sockets.add(new ServerSocket(0, 1, InetAddress.getLoopbackAddress()));
      }
      return sockets.stream().map(ServerSocket::getLocalPort).toList();
    } finally {
      for (ServerSocket s : sockets) {
        s.close();
      }
    }
  }

  @Test
  void manyServicesNeverShareAPort() throws Exception {
    // Asked one at a time with each socket closed before the next, 400 ports hold a repeat
    // almost surely (the birthday bound over the ephemeral range); held together they cannot.
    List<String> services = IntStream.range(0, 400).mapToObj(i -> "s" + i).toList();
    try (StateStore store = StateStore.open(dir)) {
      Map<String, Integer> ports = BlueGreenSteps.freePorts(services, spec(18080), store);
      assertThat(ports).hasSize(400);
      assertThat(new HashSet<>(ports.values())).hasSize(400);
    }
  }

  @Test
  void aPortRecordedForAnotherInstanceOrServedPubliclyIsNeverHandedOut() throws Exception {
    int[] range = io.vtrack.agent.runtime.LoopbackPorts.range();
    assertThat(range).as("this host's ephemeral range leaves room below it").isNotNull();
    // Every port of the range is promised but the last few; the public address is one of those.
    List<Integer> left = new ArrayList<>();
    Map<String, Integer> recorded = new LinkedHashMap<>();
    for (int p = range[0]; p <= range[1]; p++) {
      if (p > range[1] - 40) {
        left.add(p);
      } else {
        recorded.put("s" + p, p);
      }
    }
    int publicPort = left.remove(0);
    try (StateStore store = StateStore.open(dir)) {
      store
          .instances()
          .put(
              new Instance(
                  "other",
                  "blue",
                  "c0ffee",
                  Instance.Role.Candidate,
                  recorded,
                  "{}",
                  null,
                  null,
                  null));
      for (int round = 0; round < 20; round++) {
        Map<String, Integer> ports =
            BlueGreenSteps.freePorts(List.of("web", "worker"), spec(publicPort), store);
        assertThat(ports.values())
            .doesNotContainAnyElementsOf(recorded.values())
            .doesNotContain(publicPort);
      }
    }
  }

  @Test
  void portsComeFromBelowTheEphemeralRange() throws Exception {
    int[] range = io.vtrack.agent.runtime.LoopbackPorts.range();
    assertThat(range).isNotNull();
    int ephemeralLow =
        Integer.parseInt(
            java.nio.file.Files.readAllLines(Path.of("/proc/sys/net/ipv4/ip_local_port_range"))
                .get(0)
                .strip()
                .split("\\s+")[0]);
    assertThat(range[1]).isLessThan(ephemeralLow).isLessThan(30000);
    try (StateStore store = StateStore.open(dir)) {
      for (int port :
          BlueGreenSteps.freePorts(List.of("a", "b", "c"), spec(18080), store).values()) {
        assertThat(port).isBetween(range[0], range[1]);
      }
    }
  }
}
