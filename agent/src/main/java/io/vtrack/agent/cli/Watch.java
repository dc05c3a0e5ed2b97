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
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
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
    // Subscribed before the status is read, so that nothing that happens after that read is
    // missed: what the read and the record already said is not said again from the stream.
    InputStream stream = subscribe(api);
    try (BufferedReader in =
        new BufferedReader(new InputStreamReader(stream, StandardCharsets.UTF_8))) {
      ApiClient.Response st = api.get("/api/v1/deployments/" + name);
      if (!st.ok()) {
        return failure(st);
      }
      Map<String, Object> status = (Map<String, Object>) st.body().getOrDefault("status", Map.of());
      String phase = String.valueOf(status.get("phase"));
      boolean following = ROLLING.contains(phase);
      out().println(name + ": " + phase + " — " + oneLine(status.get("message"), 300));
      Set<String> said = new HashSet<>();
      if (!following) {
        out().println("waiting for a rollout to start…");
      } else {
        // Joined mid-rollout: the steps and rounds already done, from its record.
        ApiClient.Response h = api.get("/api/v1/deployments/" + name + "/history?limit=1");
        List<Map<String, Object>> items =
            h.ok() ? (List<Map<String, Object>>) h.body().get("items") : List.of();
        if (!items.isEmpty()) {
          sayRecord(items.get(0), said);
        }
      }
      out().flush();
      return follow(in, phase, following, said);
    }
  }

  /** The event stream of this deployment, once the agent has subscribed it. */
  private InputStream subscribe(ApiClient api) throws ApiClient.UnreachableException {
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
    try {
      return http.send(req, HttpResponse.BodyHandlers.ofInputStream()).body();
    } catch (IOException e) {
      throw new ApiClient.UnreachableException(
          "cannot reach the event stream: " + ApiClient.why(e));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ApiClient.UnreachableException("interrupted");
    }
  }

  /**
   * The steps of a rollout's record and its check rounds so far, in the order they happened, as
   * they would have been followed live: a step that ran checks is said when it started and when it
   * ended, with its rounds between; any other step that ended, once with its result.
   */
  @SuppressWarnings("unchecked")
  private void sayRecord(Map<String, Object> rollout, Set<String> said) {
    record Said(Instant at, Runnable say) {}
    List<Said> timeline = new ArrayList<>();
    for (Map<String, Object> s :
        (List<Map<String, Object>>) rollout.getOrDefault("steps", List.of())) {
      String step = String.valueOf(s.get("name"));
      String state = s.get("result") == null ? "Started" : String.valueOf(s.get("result"));
      said.add(step + ":Started");
      said.add(step + ":" + state);
      if (checking(step) && !"Started".equals(state)) {
        timeline.add(new Said(at(s.get("startedAt")), () -> sayStep(step, "Started", null)));
        timeline.add(
            new Said(at(s.get("finishedAt")), () -> sayStep(step, state, s.get("output"))));
      } else {
        timeline.add(new Said(at(s.get("startedAt")), () -> sayStep(step, state, s.get("output"))));
      }
    }
    Map<String, List<Map<String, Object>>> rounds = new LinkedHashMap<>();
    for (Map<String, Object> c :
        (List<Map<String, Object>>) rollout.getOrDefault("checks", List.of())) {
      rounds.computeIfAbsent(c.get("stage") + " " + c.get("round"), k -> new ArrayList<>()).add(c);
    }
    rounds.forEach(
        (key, checks) -> {
          said.add(key);
          Map<String, Object> first = checks.get(0);
          boolean failing = checks.stream().anyMatch(c -> "Failing".equals(c.get("status")));
          Instant at =
              checks.stream()
                  .map(c -> at(c.get("at")))
                  .filter(t -> !Instant.MAX.equals(t)) // a check not awaited did not run
                  .max(Instant::compareTo)
                  .orElse(Instant.MAX);
          timeline.add(
              new Said(
                  at,
                  () ->
                      sayRound(
                          first.get("stage"),
                          first.get("round"),
                          failing ? "Failing" : "Passing",
                          checks)));
        });
    timeline.sort(Comparator.comparing(Said::at));
    timeline.forEach(x -> x.say().run());
  }

  /** A time of the record; one it lacks sorts last. */
  private static Instant at(Object time) {
    try {
      return Instant.parse(String.valueOf(time));
    } catch (DateTimeParseException e) {
      return Instant.MAX;
    }
  }

  /** Whether a step runs check rounds (its rounds are said between its start and its end). */
  private static boolean checking(String step) {
    return step.startsWith("verify") || step.startsWith("preview-");
  }

  @SuppressWarnings("unchecked")
  private int follow(BufferedReader in, String phase, boolean following, Set<String> said)
      throws IOException {
    long deadline = System.nanoTime() + Duration.ofSeconds(timeoutSeconds).toNanos();
    String lastPhase = phase;
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
          String step = String.valueOf(e.get("step"));
          String state = String.valueOf(e.get("state"));
          if (!alreadySaid(said, step + ":" + state)) {
            sayStep(step, state, e.get("output"));
          }
        }
        case "round" -> {
          if (following && !alreadySaid(said, e.get("stage") + " " + e.get("round"))) {
            sayRound(
                e.get("stage"),
                e.get("round"),
                e.get("status"),
                (List<Map<String, Object>>) e.getOrDefault("checks", List.of()));
          }
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
    err().println("error: gave up after " + timeoutSeconds + "s (phase " + lastPhase + ")");
    return ExitCodes.FAILED;
  }

  /**
   * Whether an event was already said from the record: events come in order, and those that came
   * before the record was read are in it, so the first one that is not ends the overlap (a step
   * tried again later is said again).
   */
  private static boolean alreadySaid(Set<String> said, String key) {
    if (said.contains(key)) {
      return true;
    }
    said.clear();
    return false;
  }

  /** A step as it starts or ends; a verification's summary, and a failure's output, below it. */
  private void sayStep(String step, String state, Object output) {
    out().println("  step " + step + ": " + ("Started".equals(state) ? "started" : state));
    if (("Failed".equals(state) || checking(step)) && output != null && !"Started".equals(state)) {
      out().println("    " + String.valueOf(output).strip().replace("\n", "\n    "));
    }
  }

  /** A check round: its result, and each failing check with its answer. */
  private void sayRound(
      Object stage, Object round, Object status, List<Map<String, Object>> checks) {
    StringBuilder failing = new StringBuilder();
    for (Map<String, Object> c : checks) {
      if ("Failing".equals(c.get("status"))) {
        failing
            .append(failing.length() == 0 ? "" : "; ")
            .append(c.get("name"))
            .append(": ")
            .append(c.get("message"))
            .append(
                switch (String.valueOf(c.get("failure"))) {
                  case "NotReady" -> " (not ready)";
                  case "Wrong" -> " (wrong)";
                  case "Unanswered" -> " (no answer)";
                  default -> "";
                });
      }
    }
    out()
        .println(
            "  round "
                + (round == null ? "" : round + " ")
                + "("
                + stage
                + "): "
                + status
                + (failing.length() == 0 ? "" : " — " + failing));
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
