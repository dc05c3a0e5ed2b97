package io.vtrack.agent.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What {@code vtrack status NAME} prints of a blue-green deployment: instances and proxy. */
class ReportsTest {
  private static String render(Map<String, Object> status) {
    StringWriter s = new StringWriter();
    Reports.status(new PrintWriter(s), Map.of("name", "vtrack", "status", status));
    return s.toString();
  }

  private static Map<String, Object> instance(
      String colour, String role, String commit, String warmUntil) {
    Map<String, Object> i = new LinkedHashMap<>();
    i.put("colour", colour);
    i.put("role", role);
    i.put("commit", commit);
    Map<String, Object> ports = new LinkedHashMap<>();
    ports.put("backend", 40111);
    ports.put("frontend", 37673);
    i.put("ports", ports);
    if (warmUntil != null) {
      i.put("warmUntil", warmUntil);
    }
    return i;
  }

  @Test
  void blueGreenShowsEachInstanceAndTheProxysHealth() {
    Map<String, Object> st = new LinkedHashMap<>();
    st.put("phase", "Healthy");
    st.put(
        "instances",
        List.of(
            instance("green", "Live", "b7100e3aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", null),
            instance(
                "blue",
                "Warm",
                "4246246bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                "2026-12-02T20:10:00Z")));
    st.put("proxy", Map.of("healthy", true, "pid", 4242, "routesVersion", 7));
    String out = render(st);
    assertThat(out).contains("Instances:");
    assertThat(out.lines().filter(l -> l.contains("green")).findFirst().orElseThrow())
        .contains("Live")
        .contains("b7100e3")
        .contains("backend=40111 frontend=37673");
    assertThat(out.lines().filter(l -> l.contains("blue")).findFirst().orElseThrow())
        .contains("Warm")
        .contains("2026-12-02T20:10:00Z");
    assertThat(out).contains("Proxy:         healthy (pid 4242, routes version 7)");
  }

  @Test
  void aProxyThatCannotListenSaysWhy() {
    Map<String, Object> st = new LinkedHashMap<>();
    st.put("phase", "Verifying");
    st.put("instances", List.of(instance("blue", "Candidate", "42989d0", null)));
    st.put(
        "proxy",
        Map.of(
            "healthy",
            false,
            "pid",
            4242,
            "routesVersion",
            1,
            "message",
            "cannot listen on 127.0.0.1:13000: Address already in use"));
    assertThat(render(st))
        .contains(
            "Proxy:         UNHEALTHY (pid 4242, routes version 1): cannot listen on"
                + " 127.0.0.1:13000: Address already in use");
  }

  @Test
  void aProxyNotNeededYetIsNeitherHealthyNorUnhealthy() {
    Map<String, Object> st = new LinkedHashMap<>();
    st.put("phase", "Verifying");
    st.put("instances", List.of(instance("blue", "Candidate", "42989d0", null)));
    st.put("proxy", Map.of("message", "not started yet: it starts at the first switch"));
    assertThat(render(st))
        .contains("Proxy:         not started yet: it starts at the first switch\n")
        .doesNotContain("UNHEALTHY");
  }

  @Test
  void recreateShowsNeither() {
    String out = render(Map.of("phase", "Healthy"));
    assertThat(out).doesNotContain("Instances:").doesNotContain("Proxy:");
  }

  @Test
  void theLastRolloutSaysItsReasonOnlyWhenItAddsToItsResult() {
    Map<String, Object> st = new LinkedHashMap<>();
    st.put("phase", "Healthy");
    Map<String, Object> lr = new LinkedHashMap<>();
    lr.put("id", 2);
    lr.put("from", "7afaf1b5fb3d6a36127ca53e454fff853182a57e");
    lr.put("to", "197f5c47e6c46606b4fb9218a2840c5aacaf230f");
    lr.put("result", "Succeeded");
    lr.put("reason", "Succeeded");
    lr.put("durationMs", 6435);
    st.put("lastRollout", lr);
    assertThat(render(st)).contains("Last rollout:  #2 7afaf1b -> 197f5c4 Succeeded in 6435ms\n");
    lr.put("result", "RolledBack");
    lr.put("reason", "ChecksFailed");
    assertThat(render(st))
        .contains("Last rollout:  #2 7afaf1b -> 197f5c4 RolledBack ChecksFailed in 6435ms\n");
  }
}
