package io.vtrack.agent.it;

import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** The agent as a separate JVM (the built jar), so that it can be killed with SIGKILL. */
public final class AgentProcess implements AutoCloseable {
  public static final Path JAR = Path.of("target", "vtrack-agent.jar").toAbsolutePath();

  private final Path root;
  private final Path config;
  public final Path stateDir;
  public final int port;
  private Process process;
  private int starts;

  public AgentProcess(Path root, String deployUrl, String pollInterval) throws Exception {
    this(
        root,
        root.resolve("state"),
        "  - git: {repoURL: \"%s\", branch: main, path: ., interval: %s, webhookSecretFile: %s}"
            .formatted(deployUrl, pollInterval, root.resolve("webhook-secret")));
  }

  /**
   * An agent named it-agent with its own folder {@code root} (config, logs) on the state folder
   * given (two agents of one host share it) and the {@code sources:} entries given.
   */
  public AgentProcess(Path root, Path stateDir, String sources) throws Exception {
    this.root = root;
    this.stateDir = stateDir;
    this.port = TestApp.freePort();
    Files.createDirectories(root);
    Files.writeString(root.resolve("webhook-secret"), "it-secret\n");
    this.config = root.resolve("agent.yaml");
    Files.writeString(
        config,
        """
        agentName: it-agent
        stateDir: %s
        listen: 127.0.0.1:%d
        sources:
        %s
        """
            .formatted(stateDir, port, sources));
  }

  public void start() throws Exception {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",
                "-jar",
                JAR.toString(),
                "run",
                "--config",
                config.toString()));
    starts++;
    process =
        new ProcessBuilder(cmd)
            .redirectErrorStream(true)
            .redirectOutput(
                ProcessBuilder.Redirect.appendTo(root.resolve("agent-" + starts + ".log").toFile()))
            .start();
    await()
        .atMost(Duration.ofSeconds(60))
        .ignoreExceptions()
        .until(
            () ->
                Files.exists(stateDir.resolve("api-token"))
                    && api().get("/readyz").status() == 200);
  }

  public Api api() throws Exception {
    String token =
        Files.exists(stateDir.resolve("api-token"))
            ? Files.readString(stateDir.resolve("api-token")).trim()
            : "";
    return new Api(port, token);
  }

  /** SIGKILL: no shutdown hook, no cleanup, as when the host's OOM killer strikes. */
  public void kill() throws Exception {
    process.destroyForcibly();
    process.waitFor();
  }

  public String log() throws Exception {
    StringBuilder sb = new StringBuilder();
    for (int i = 1; i <= starts; i++) {
      Path p = root.resolve("agent-" + i + ".log");
      if (Files.exists(p)) {
        sb.append("---- agent run ").append(i).append('\n').append(Files.readString(p));
      }
    }
    return sb.toString();
  }

  @Override
  public void close() throws Exception {
    if (process != null && process.isAlive()) {
      kill();
    }
    InProcessAgent.killApp(stateDir);
  }
}
