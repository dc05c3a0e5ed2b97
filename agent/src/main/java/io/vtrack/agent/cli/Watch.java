package io.vtrack.agent.cli;

import io.vtrack.agent.Texts;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import tools.jackson.databind.json.JsonMapper;

/**
 * {@code vtrack watch NAME}: follows a rollout live from the event stream — steps, check rounds,
 * result — and exits 0 when it ends Healthy, 1 when RolledBack or Failed.
 */
@Command(
    name = "watch",
    description =
        "Follow a rollout live; exit 0 when it ends Healthy, 1 when RolledBack or Failed.")
final class Watch extends ApiCommand {
  private static final JsonMapper JSON = JsonMapper.builder().build();
  private static final Set<String> ROLLING =
      Set.of(
          "Preparing",
          "Validating",
          "BackingUp",
          "Previewing",
          "Deploying",
          "Verifying",
          "RollingBack");

  @Parameters(index = "0", description = "deployment name")
  String name;

  @Option(names = "--timeout", description = "give up after this many seconds (default 900)")
  long timeoutSeconds = 900;

  @Override
  @SuppressWarnings("unchecked")
  int run(ApiClient api) throws Exception {
    ApiClient.Response st = api.get("/api/v1/deployments/" + name);
    if (!st.ok()) {
      return failure(st);
    }
    Map<String, Object> status = (Map<String, Object>) st.body().getOrDefault("status", Map.of());
    String phase = String.valueOf(status.get("phase"));
    boolean following = ROLLING.contains(phase);
    out().println(name + ": " + phase + " — " + oneLine(status.get("message"), 300));
    if (!following) {
      out().println("waiting for a rollout to start…");
    } else {
      // Joined mid-rollout: show the steps already done.
      ApiClient.Response h = api.get("/api/v1/deployments/" + name + "/history?limit=1");
      List<Map<String, Object>> items =
          h.ok() ? (List<Map<String, Object>>) h.body().get("items") : List.of();
      if (!items.isEmpty()) {
        for (Map<String, Object> s :
            (List<Map<String, Object>>) items.get(0).getOrDefault("steps", List.of())) {
          out()
              .println(
                  "  step "
                      + s.get("name")
                      + ": "
                      + (s.get("result") == null ? "started" : s.get("result")));
        }
      }
    }
    out().flush();
    HttpClient http =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();
    HttpRequest req =
        HttpRequest.newBuilder(URI.create(api.server() + "/api/v1/events?deployment=" + name))
            .header("Accept", "text/event-stream")
            .timeout(Duration.ofSeconds(timeoutSeconds))
            .GET()
            .build();
    long deadline = System.nanoTime() + Duration.ofSeconds(timeoutSeconds).toNanos();
    HttpResponse<InputStream> resp;
    try {
      resp = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
    } catch (IOException e) {
      throw new ApiClient.UnreachableException(
          "cannot reach the event stream: " + ApiClient.why(e));
    }
    String lastPhase = phase;
    String lastRound = "";
    int repeats = 0;
    try (BufferedReader in =
        new BufferedReader(new InputStreamReader(resp.body(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = in.readLine()) != null && System.nanoTime() < deadline) {
        if (!line.startsWith("data: ")) {
          continue;
        }
        Map<String, Object> e = JSON.readValue(line.substring(6), Map.class);
        String type = String.valueOf(e.get("type"));
        switch (type) {
          case "step" -> {
            following = true;
            String state = String.valueOf(e.get("state"));
            out()
                .println(
                    "  step "
                        + e.get("step")
                        + ": "
                        + ("Started".equals(state) ? "started" : state));
            String step = String.valueOf(e.get("step"));
            boolean verify = step.startsWith("verify") || step.startsWith("preview-");
            if (("Failed".equals(state) || verify) && e.get("output") != null) {
              out()
                  .println(
                      "    " + String.valueOf(e.get("output")).strip().replace("\n", "\n    "));
            }
          }
          case "round" -> {
            if (!following) {
              break;
            }
            List<Map<String, Object>> checks =
                (List<Map<String, Object>>) e.getOrDefault("checks", List.of());
            StringBuilder failing = new StringBuilder();
            for (Map<String, Object> c : checks) {
              if ("Failing".equals(c.get("status"))) {
                failing
                    .append(failing.length() == 0 ? "" : "; ")
                    .append(c.get("name"))
                    .append(": ")
                    .append(c.get("message"))
                    .append(
                        "NotReady".equals(c.get("failure"))
                            ? " (not ready)"
                            : "Wrong".equals(c.get("failure"))
                                ? " (wrong)"
                                : "Unanswered".equals(c.get("failure")) ? " (no answer)" : "");
              }
            }
            out()
                .println(
                    "  round "
                        + (e.get("round") == null ? "" : e.get("round") + " ")
                        + "("
                        + e.get("stage")
                        + "): "
                        + e.get("status")
                        + (failing.length() == 0 ? "" : " — " + failing));
          }
          case "rollout" ->
              out()
                  .println(
                      "rollout #"
                          + e.get("rolloutId")
                          + " "
                          + e.get("result")
                          + (e.get("reason") == null ? "" : " (" + e.get("reason") + ")")
                          + " in "
                          + e.get("durationMs")
                          + " ms");
          case "status" -> {
            String p = String.valueOf(e.get("phase"));
            if (ROLLING.contains(p)) {
              following = true;
            }
            if (repeats > 0) {
              out()
                  .println(
                      "  … the same for " + repeats + " more round" + (repeats == 1 ? "" : "s"));
              repeats = 0;
            }
            if (!p.equals(lastPhase)) {
              out().println(name + ": " + p + " — " + oneLine(e.get("message"), 300));
              lastPhase = p;
            }
            if (following && !ROLLING.contains(p)) {
              out().flush();
              return "Healthy".equals(p) ? ExitCodes.OK : ExitCodes.FAILED;
            }
          }
          default -> {}
        }
        out().flush();
      }
    }
    err().println("error: gave up after " + timeoutSeconds + "s (phase " + lastPhase + ")");
    return ExitCodes.FAILED;
  }

  /** The first line of a message, at most {@code max} characters. */
  static String oneLine(Object message, int max) {
    String s = String.valueOf(message).strip();
    int nl = s.indexOf('\n');
    if (nl >= 0) {
      s = s.substring(0, nl) + " …";
    }
    return Texts.abbreviate(s, max);
  }
}
