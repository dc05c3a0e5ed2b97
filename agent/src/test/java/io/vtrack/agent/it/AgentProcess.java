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

  /** Where the agent keeps its API token (agent.yaml's auth.tokenFile; default in stateDir). */
  private Path tokenFile;

  /** The jar the agent runs from (the build's, unless a test installs one of its own). */
  private Path jar = JAR;

  /** Runs the agent from {@code file} (a jar installed elsewhere) instead of the build's. */
  public AgentProcess jar(Path file) {
    this.jar = file;
    return this;
  }

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
    this.tokenFile = stateDir.resolve("api-token");
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

  /**
   * Keeps the API token in {@code file} (agent.yaml's auth.tokenFile), outside the state folder.
   */
  public AgentProcess tokenAt(Path file) throws Exception {
    tokenFile = file;
    Files.writeString(
        config, "auth: {tokenFile: \"" + file + "\"}\n", java.nio.file.StandardOpenOption.APPEND);
    return this;
  }

  public void start() throws Exception {
    start(java.util.Map.of());
  }

  /** Starts the agent with extra environment (e.g. {@code VTRACK_CRASH_AT}). */
  public void start(java.util.Map<String, String> env) throws Exception {
    startNoWait(env);
    await()
        .atMost(Duration.ofSeconds(60))
        .ignoreExceptions()
        .until(() -> Files.exists(tokenFile) && api().get("/readyz").status() == 200);
  }

  /**
   * Starts the agent and returns at once (it may halt at a crash point before it is ready). It runs
   * as an operator runs it: {@code java -jar vtrack-agent.jar} in the jar's folder.
   */
  public void startNoWait(java.util.Map<String, String> env) throws Exception {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",
                "-jar",
                jar.getFileName().toString(),
                "run",
                "--config",
                config.toString()));
    starts++;
    ProcessBuilder pb =
        new ProcessBuilder(cmd)
            .directory(jar.getParent().toFile())
            .redirectErrorStream(true)
            .redirectOutput(
                ProcessBuilder.Redirect.appendTo(
                    root.resolve("agent-" + starts + ".log").toFile()));
    pb.environment().putAll(env);
    process = pb.start();
  }

  /** Waits for the agent process to end by itself (a crash point halts it); its exit code. */
  public int awaitExit(Duration timeout) throws Exception {
    if (!process.waitFor(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)) {
      throw new AssertionError("the agent did not stop within " + timeout + "\n" + log());
    }
    return process.exitValue();
  }

  public Api api() throws Exception {
    String token = Files.exists(tokenFile) ? Files.readString(tokenFile).trim() : "";
    return new Api(port, token);
  }

  /** Waits until deployment {@code vtrack} is in {@code phase} with {@code commit} running. */
  @SuppressWarnings("unchecked")
  public void awaitState(String phase, String commit) {
    await()
        .atMost(Duration.ofSeconds(120))
        .pollInterval(Duration.ofMillis(200))
        .untilAsserted(
            () -> {
              java.util.Map<String, Object> st = api().status("vtrack");
              org.assertj.core.api.Assertions.assertThat(st.get("phase"))
                  .as("status %s\n%s", st, log())
                  .isEqualTo(phase);
              org.assertj.core.api.Assertions.assertThat(st.get("currentCommit")).isEqualTo(commit);
            });
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
