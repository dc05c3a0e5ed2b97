package io.vtrack.agent.cli;

import io.vertx.core.Vertx;
import io.vtrack.agent.Agent;
import io.vtrack.agent.config.AgentConfig;
import io.vtrack.agent.config.AgentConfigLoader;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The long-running commands: the agent daemon and the switch proxy. */
final class DaemonCommands {
  private DaemonCommands() {}

  @Command(name = "run", description = "Run the agent daemon.")
  static class Run implements Callable<Integer> {
    @Option(
        names = {"-c", "--config"},
        description = "agent.yaml (default: built-in defaults)")
    Path config;

    @Override
    public Integer call() throws Exception {
      AgentConfig cfg;
      try {
        cfg = config == null ? AgentConfig.defaults() : AgentConfigLoader.load(config);
      } catch (AgentConfigLoader.InvalidConfigException e) {
        System.err.println("error: " + e.getMessage());
        return ExitCodes.FAILED;
      }
      io.vtrack.agent.LogSetup.apply(cfg.logFormat());
      Path base =
          config == null ? Path.of(".").toAbsolutePath() : config.toAbsolutePath().getParent();
      Vertx vertx = Vertx.vertx(Agent.vertxOptions());
      Agent agent = new Agent(cfg, base);
      CountDownLatch stopped = new CountDownLatch(1);
      try {
        vertx.deployVerticle(agent).await();
      } catch (Exception e) {
        System.err.println("error: agent failed to start: " + e.getMessage());
        vertx.close();
        return ExitCodes.FAILED;
      }
      Runtime.getRuntime()
          .addShutdownHook(
              new Thread(
                  () -> {
                    // The app keeps running: only the agent stops (a deletion being applied
                    // may finish first: Agent.DELETION_GRACE).
                    try {
                      vertx.close().await(25, TimeUnit.SECONDS);
                    } catch (Exception ignored) {
                      // Exiting anyway.
                    }
                    stopped.countDown();
                  },
                  "vtrack-shutdown"));
      stopped.await();
      return ExitCodes.OK;
    }
  }

  @Command(
      name = "proxy",
      description =
          "Run the switch proxy of blue-green deployments (the agent starts it; a DaemonSet runs"
              + " it as a sidecar).")
  static class Proxy implements Callable<Integer> {
    @Option(names = "--state-dir", required = true, description = "the agent's stateDir")
    Path stateDir;

    @Option(
        names = "--token-file",
        description = "the agent's API token (default: <state-dir>/api-token)")
    Path tokenFile;

    @Option(
        names = "--admin-listen",
        description = "host:port of the admin API (default: 127.0.0.1:0, any free port)")
    String adminListen = "127.0.0.1:0";

    @Option(
        names = "--exit-when-ready",
        hidden = true,
        description =
            "serve a throwaway route in the state folder, answer requests through it, then stop"
                + " (the build trains the proxy's class-data archive so)")
    boolean exitWhenReady;

    @Override
    public Integer call() throws Exception {
      Path token = tokenFile != null ? tokenFile : stateDir.resolve("api-token");
      // epoll where Netty has it (Linux x86-64): fewer copies and system calls per request.
      try {
        io.vtrack.agent.Agent.nativeLibraryFolder(stateDir.toAbsolutePath());
      } catch (IOException e) {
        // Netty tries /tmp and falls back to Java NIO.
      }
      Vertx vertx = Vertx.vertx(Agent.vertxOptions().setPreferNativeTransport(true));
      int training =
          exitWhenReady ? io.vtrack.agent.proxy.ProxyTraining.prepare(vertx, stateDir) : 0;
      try {
        vertx
            .deployVerticle(
                new io.vtrack.agent.proxy.SwitchProxy(
                    stateDir.toAbsolutePath(),
                    // Training answers no admin call: its token is never read.
                    exitWhenReady ? "training" : io.vtrack.agent.proxy.SwitchProxy.readToken(token),
                    adminListen))
            .await();
      } catch (Exception e) {
        System.err.println("error: the switch proxy failed to start: " + e.getMessage());
        vertx.close();
        return ExitCodes.FAILED;
      }
      if (exitWhenReady) {
        io.vtrack.agent.proxy.ProxyTraining.exercise(training);
        vertx.close().await(10, TimeUnit.SECONDS);
        return ExitCodes.OK;
      }
      io.vtrack.agent.JarWatch jar = io.vtrack.agent.JarWatch.ofThisJvm();
      if (jar != null) {
        jar.watch(vertx, "switch proxy");
      }
      CountDownLatch stopped = new CountDownLatch(1);
      Runtime.getRuntime()
          .addShutdownHook(
              new Thread(
                  () -> {
                    try {
                      vertx.close().await(10, TimeUnit.SECONDS);
                    } catch (Exception ignored) {
                      // Exiting anyway.
                    }
                    stopped.countDown();
                  },
                  "vtrack-proxy-shutdown"));
      stopped.await();
      return ExitCodes.OK;
    }
  }
}
