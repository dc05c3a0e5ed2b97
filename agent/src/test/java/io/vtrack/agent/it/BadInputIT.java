package io.vtrack.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.vtrack.agent.config.AgentConfig;
import io.vtrack.agent.model.DocumentParser;
import io.vtrack.agent.model.Interval;
import io.vtrack.agent.store.StateStore;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The bad-input corpus ({@code src/test/resources/bad-input/}) against a running agent with the
 * example app deployed: careless and hostile documents, API requests and agent.yaml files. For
 * each, the answer, and that the app's process, its database and the deployment's record are
 * unchanged.
 */
@SuppressWarnings("unchecked")
class BadInputIT extends AgentTestBase {
  static final Path CORPUS = Path.of("src", "test", "resources", "bad-input");

  Path deployFile;

  /** What must not change: the backend's PID, the rows of the database, the store's record. */
  record World(long pid, String rows, String record) {}

  World world() throws Exception {
    String record;
    try (StateStore s = StateStore.open(agent.stateDir)) {
      var row = s.deployments().get(app.name).orElseThrow();
      record =
          row.currentCommit()
              + " "
              + row.lastHealthyCommit()
              + " "
              + s.commits().verified(app.name)
              + " "
              + s.commits().quarantined(app.name, row.generation())
              + " "
              + s.rollouts().list(app.name, 1000).size();
    }
    return new World(backendPid(), rowDigest(), record);
  }

  String rowDigest() throws Exception {
    Path db =
        agent.stateDir.resolve("deployments/" + app.name + "/shared/backend/database/events.db");
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:file:" + db + "?mode=ro");
        ResultSet rs =
            c.createStatement()
                .executeQuery("SELECT id, name, url, active FROM video_sources ORDER BY id")) {
      while (rs.next()) {
        for (int i = 1; i <= 4; i++) {
          md.update(String.valueOf(rs.getString(i)).getBytes(StandardCharsets.UTF_8));
        }
      }
    }
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:file:" + db + "?mode=ro");
        ResultSet rs =
            c.createStatement().executeQuery("SELECT selected_cameras FROM processing_config")) {
      while (rs.next()) {
        md.update(String.valueOf(rs.getString(1)).getBytes(StandardCharsets.UTF_8));
      }
    }
    return HexFormat.of().formatHex(md.digest());
  }

  /** The example app deployed from a file source, with allowedCommands for its programs. */
  World deployed() throws Exception {
    Path docs = tmp.resolve("docs");
    Files.createDirectories(docs);
    deployFile = docs.resolve("vtrack.yaml");
    Files.writeString(deployFile, app.document("v1"));
    agent =
        new InProcessAgent(
            tmp,
            new AgentConfig(
                "it-agent",
                tmp.resolve("state").toString(),
                "127.0.0.1:0",
                null,
                List.of("python3", "npm"),
                List.of(
                    new AgentConfig.SourceConfig(
                        null,
                        null,
                        new AgentConfig.FileSourceConfig(docs.toString(), Interval.parse("200ms"))),
                    // Only for its webhook secret: the deploy repository has no commit here.
                    new AgentConfig.SourceConfig(
                        new AgentConfig.GitSourceConfig(
                            app.deployUrl(),
                            "main",
                            ".",
                            Interval.parse("1h"),
                            tmp.resolve("webhook-secret").toString()),
                        null,
                        null)),
                null,
                null,
                null));
    awaitPhase("Healthy", commitOf("v1"));
    return world();
  }

  @Test
  void badDocumentsStallTheDeploymentAndChangeNothingThatRuns() throws Exception {
    World before = deployed();
    String good = Files.readString(deployFile);
    List<Map<String, Object>> cases =
        DocumentParser.YAML.readValue(
            Files.readString(CORPUS.resolve("documents.yaml")), List.class);
    assertThat(cases).hasSizeGreaterThan(15);
    for (Map<String, Object> c : cases) {
      String name = (String) c.get("name");
      byte[] bad = bad(good, c);
      Files.write(deployFile, bad);
      await()
          .atMost(LONG)
          .untilAsserted(
              () -> {
                Map<String, Object> st = status();
                assertThat(st.get("phase")).as("%s: %s", name, st).isEqualTo("Stalled");
                Map<String, Object> stalled = condition(st, "Stalled");
                assertThat(stalled.get("reason")).as(name).isEqualTo(c.get("reason"));
                assertThat(String.valueOf(stalled.get("message")))
                    .as(name)
                    .contains((String) c.get("message"));
              });
      assertThat(world()).as("%s changed what runs", name).isEqualTo(before);
      Files.writeString(deployFile, good);
      awaitPhase("Healthy", commitOf("v1"));
      assertThat(world()).as("after %s", name).isEqualTo(before);
    }
  }

  private static byte[] bad(String good, Map<String, Object> c) {
    if (c.containsKey("content")) {
      return ((String) c.get("content")).getBytes(StandardCharsets.UTF_8);
    }
    if (c.containsKey("repeat")) {
      // {text, times}: the text that many times over, as the whole file.
      Map<String, Object> r = (Map<String, Object>) c.get("repeat");
      return ((String) r.get("text"))
          .repeat((Integer) r.get("times"))
          .getBytes(StandardCharsets.UTF_8);
    }
    if (c.containsKey("padComment")) {
      // The good document followed by a comment line that many bytes long.
      return (good + "\n#" + "x".repeat((Integer) c.get("padComment")) + "\n")
          .getBytes(StandardCharsets.UTF_8);
    }
    if (c.containsKey("truncateAt")) {
      String at = (String) c.get("truncateAt");
      assertThat(good).contains(at);
      return good.substring(0, good.indexOf(at)).getBytes(StandardCharsets.UTF_8);
    }
    if (c.containsKey("appendBytes")) {
      byte[] tail = HexFormat.of().parseHex(((String) c.get("appendBytes")).replace(" ", ""));
      byte[] head = good.getBytes(StandardCharsets.UTF_8);
      byte[] out = new byte[head.length + tail.length];
      System.arraycopy(head, 0, out, 0, head.length);
      System.arraycopy(tail, 0, out, head.length, tail.length);
      return out;
    }
    String text = good;
    for (Map.Entry<String, String> r : ((Map<String, String>) c.get("replace")).entrySet()) {
      assertThat(text).as("case %s: text to replace", c.get("name")).contains(r.getKey());
      text = text.replace(r.getKey(), r.getValue());
    }
    return text.getBytes(StandardCharsets.UTF_8);
  }

  private static Map<String, Object> condition(Map<String, Object> st, String type) {
    for (Map<String, Object> c :
        (List<Map<String, Object>>) st.getOrDefault("conditions", List.of())) {
      if (type.equals(c.get("type"))) {
        return c;
      }
    }
    return Map.of();
  }

  @Test
  void badRequestsAreAnsweredAndChangeNothing() throws Exception {
    World before = deployed();
    List<Map<String, Object>> cases =
        DocumentParser.YAML.readValue(Files.readString(CORPUS.resolve("api.yaml")), List.class);
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    List<String> failures = new ArrayList<>();
    for (Map<String, Object> c : cases) {
      String path = ((String) c.get("path")).replace("{name}", app.name);
      HttpRequest.Builder b =
          HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + agent.agent.port() + path))
              .timeout(Duration.ofSeconds(30));
      Map<String, String> headers = (Map<String, String>) c.getOrDefault("headers", Map.of());
      boolean restricted = headers.containsKey("Host");
      if (Boolean.TRUE.equals(c.get("token"))) {
        b.header("Authorization", "Bearer " + agent.agent.token());
      }
      byte[] body =
          c.containsKey("bodyBytes")
              ? new byte[(Integer) c.get("bodyBytes")]
              : String.valueOf(c.getOrDefault("body", ""))
                  .replace(
                      "%s",
                      String.valueOf(c.getOrDefault("repeatWith", "a"))
                          .repeat((Integer) c.getOrDefault("repeat", 0)))
                  .getBytes(StandardCharsets.UTF_8);
      b.method(
          (String) c.get("method"),
          body.length == 0
              ? HttpRequest.BodyPublishers.noBody()
              : HttpRequest.BodyPublishers.ofByteArray(body));
      int status;
      String text;
      if (restricted) {
        // java.net.http does not let a caller set Host: speak HTTP/1.1 over a socket instead.
        String[] answer = rawGet(agent.agent.port(), path, headers.get("Host"));
        status = Integer.parseInt(answer[0]);
        text = answer[1];
      } else {
        headers.forEach(b::header);
        HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        status = r.statusCode();
        text = r.body();
      }
      if (status != (Integer) c.get("status")
          || (c.get("contains") != null && !text.contains((String) c.get("contains")))) {
        failures.add(c.get("name") + ": " + status + " " + text);
      }
    }
    assertThat(failures).isEmpty();
    assertThat(world()).isEqualTo(before);
    // The spec (commands, env values) is for token holders only; the status is for everyone.
    assertThat(agent.api.get("/api/v1/deployments/" + app.name).json()).doesNotContainKey("spec");
    assertThat(agent.api.get("/api/v1/deployments/" + app.name).json()).containsKey("status");
  }

  /**
   * A chunked body that never ends, to the unauthenticated webhook: answered 413 once past the
   * limit and the connection closed, so the sender's writes fail long before it has sent 200 MB.
   */
  @Test
  void anEndlessBodyIsRefusedAndItsConnectionClosed() throws Exception {
    start("1h");
    try (java.net.Socket s = new java.net.Socket("127.0.0.1", agent.agent.port())) {
      s.setSoTimeout(30_000);
      var out = s.getOutputStream();
      out.write(
          ("POST /api/v1/hooks/git HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  + "Transfer-Encoding: chunked\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII));
      byte[] chunk = new byte[64 << 10];
      byte[] head =
          (Integer.toHexString(chunk.length) + "\r\n").getBytes(StandardCharsets.US_ASCII);
      long sent = 0;
      try {
        while (sent < 200L << 20) {
          out.write(head);
          out.write(chunk);
          out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
          sent += chunk.length;
        }
      } catch (java.io.IOException closed) {
        // What this test waits for: the agent closed the connection.
      }
      assertThat(sent).isLessThan(200L << 20);
      String answer = new String(s.getInputStream().readNBytes(200), StandardCharsets.UTF_8);
      assertThat(answer).startsWith("HTTP/1.1 413");
    }
  }

  private static String[] rawGet(int port, String path, String host) throws Exception {
    String all =
        io.vtrack.agent.RawClient.exchange(
            port, "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n");
    return new String[] {all.split(" ")[1], all};
  }

  @Test
  void badAgentConfigsAreRefusedNamingTheField() throws Exception {
    List<String> failures = new ArrayList<>();
    try (DirectoryStream<Path> files = Files.newDirectoryStream(CORPUS.resolve("agent-yaml"))) {
      for (Path f : files) {
        String expect = Files.readAllLines(f).get(0).replace("# expect: ", "").strip();
        // ${tmp} in a case: a folder of this test's own, so that nothing is left behind.
        Path config = tmp.resolve(f.getFileName());
        Files.writeString(config, Files.readString(f).replace("${tmp}", tmp.toString()));
        Process p =
            new ProcessBuilder(
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-jar",
                    AgentProcess.JAR.toString(),
                    "run",
                    "--config",
                    config.toString())
                .redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        int code = p.waitFor();
        if (code != 1 || !out.contains(expect) || out.contains("\tat ")) {
          failures.add(f.getFileName() + ": exit " + code + ": " + out);
        }
      }
    }
    assertThat(failures).isEmpty();
  }

  @Test
  void aLogLinePlantedAgainstASlowPatternNeitherWedgesTheAgentNorRestartsTheApp() throws Exception {
    World before = deployed();
    // A pattern with catastrophic backtracking, as a careless policy might hold.
    String slow =
        Files.readString(deployFile)
            .replace(
                "      - name: sources\n",
                "      - name: slow-pattern\n"
                    + "        log: {file: backend/logs/app.log, pattern: \"(.*a){12}x\", max: 0}\n"
                    + "      - name: sources\n");
    Files.writeString(deployFile, slow);
    await()
        .atMost(LONG)
        .untilAsserted(
            () -> assertThat(String.valueOf(status().get("checks"))).contains("slow-pattern"));
    // The line an outside client plants by asking for a path the app logs.
    Path log = agent.stateDir.resolve("deployments/" + app.name + "/shared/backend/logs/app.log");
    for (int i = 0; i < 5; i++) {
      Files.writeString(log, "a".repeat(40) + "\n", java.nio.file.StandardOpenOption.APPEND);
    }
    long worst = 0;
    long until = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    int calls = 0;
    while (System.nanoTime() < until) {
      long t0 = System.nanoTime();
      Api.Answer a = agent.api.get("/api/v1/deployments/" + app.name);
      worst = Math.max(worst, (System.nanoTime() - t0) / 1_000_000);
      assertThat(a.status()).isEqualTo(200);
      calls++;
    }
    System.out.printf(
        "status GET during the slow pattern: %d calls, slowest %d ms%n", calls, worst);
    // Far below the seconds a wedged worker pool took (the answer never waits for a check).
    assertThat(worst).isLessThan(1_000);
    assertThat(agent.api.get("/readyz").status()).isEqualTo(200);
    Map<String, Object> st = status();
    assertThat(st.get("phase")).isEqualTo("Healthy");
    assertThat(String.valueOf(st.get("checks"))).contains("skipped: the pattern took over");
    assertThat(backendPid()).isEqualTo(before.pid());
  }
}
