package io.vtrack.agent.it;

import io.vertx.core.Vertx;
import io.vtrack.agent.Agent;
import io.vtrack.agent.config.AgentConfig;
import io.vtrack.agent.model.Interval;
import io.vtrack.agent.store.StateStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** The agent running in the test's JVM on a real port, with a git source on the deploy repo. */
public final class InProcessAgent implements AutoCloseable {
  static {
    // Awaitility fails the test awaiting when any thread of the JVM throws. An agent stopped by an
    // earlier test may still have a worker in a git read (a remote that hangs holds it until
    // gitTimeout); when it ends after that agent's Vert.x closed, handing the result back throws
    // on that worker. That is the earlier agent's shutdown, not the outcome of the test awaiting.
    org.awaitility.Awaitility.doNotCatchUncaughtExceptionsByDefault();
  }

  public final Vertx vertx;
  public final Agent agent;
  public final Api api;
  public final Path stateDir;
  public final Path secretFile;

  public InProcessAgent(Path root, TestApp app, String pollInterval) throws Exception {
    this(
        root,
        List.of(
            new AgentConfig.SourceConfig(
                new AgentConfig.GitSourceConfig(
                    app.deployUrl(),
                    "main",
                    ".",
                    Interval.parse(pollInterval),
                    root.resolve("webhook-secret").toString()),
                null,
                null)));
  }

  /** An agent named it-agent on the sources given, its state under {@code root/state}. */
  public InProcessAgent(Path root, List<AgentConfig.SourceConfig> sources) throws Exception {
    this(root, sources, null);
  }

  /** An agent on the configuration given (its stateDir under {@code root}). */
  public InProcessAgent(Path root, AgentConfig cfg) throws Exception {
    this(root, cfg, Vertx.vertx(Agent.vertxOptions()));
  }

  /** As above, on {@code vertx} (closed with the agent). */
  public InProcessAgent(Path root, AgentConfig cfg, Vertx vertx) throws Exception {
    this.vertx = vertx;
    stateDir = Path.of(cfg.stateDir());
    secretFile = root.resolve("webhook-secret");
    Files.writeString(secretFile, "it-secret\n");
    agent = new Agent(cfg, root);
    vertx.deployVerticle(agent).await();
    api = new Api(agent.port(), agent.token());
  }

  /** As above, with a git timeout (null: the default). */
  public InProcessAgent(Path root, List<AgentConfig.SourceConfig> sources, Interval gitTimeout)
      throws Exception {
    vertx = Vertx.vertx(Agent.vertxOptions());
    stateDir = root.resolve("state");
    secretFile = root.resolve("webhook-secret");
    Files.writeString(secretFile, "it-secret\n");
    AgentConfig cfg =
        new AgentConfig(
            "it-agent",
            stateDir.toString(),
            "127.0.0.1:0",
            null,
            List.of(),
            sources,
            null,
            gitTimeout,
            null);
    agent = new Agent(cfg, root);
    vertx.deployVerticle(agent).await();
    api = new Api(agent.port(), agent.token());
  }

  /** Stops the agent only; the app keeps running, as it would in production. */
  public void stopAgent() {
    vertx.close().await();
  }

  @Override
  public void close() throws Exception {
    try {
      vertx.close().await();
    } catch (Exception ignored) {
      // Already closed.
    }
    killApp(stateDir);
  }

  /**
   * Test cleanup, and power loss: kills every process group the state store knows and every one
   * started from this state folder, so no test leaks processes.
   */
  public static void killApp(Path stateDir) throws Exception {
    java.util.Set<Long> groups = new java.util.TreeSet<>();
    if (Files.exists(stateDir.resolve("state.db"))) {
      try (StateStore store = StateStore.open(stateDir)) {
        for (io.vtrack.agent.store.ProcessRepository.ProcessRow p : store.processes().all()) {
          groups.add(p.pgid());
        }
      }
    }
    for (io.vtrack.agent.runtime.OrphanScan.Found f :
        io.vtrack.agent.runtime.OrphanScan.find(stateDir)) {
      groups.add(f.pgid());
    }
    for (long g : groups) {
      new ProcessBuilder("kill", "-KILL", "--", "-" + g).start().waitFor();
    }
  }
}
