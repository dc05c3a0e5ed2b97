package io.vtrack.agent;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.WorkerExecutor;
import io.vtrack.agent.api.ApiServer;
import io.vtrack.agent.api.DeploymentViews;
import io.vtrack.agent.backup.BackupManager;
import io.vtrack.agent.check.CheckFactory;
import io.vtrack.agent.config.AgentConfig;
import io.vtrack.agent.metrics.AgentMetrics;
import io.vtrack.agent.notify.Notifier;
import io.vtrack.agent.proxy.ProxySupervisor;
import io.vtrack.agent.reconcile.Reconciler;
import io.vtrack.agent.release.GitRepositories;
import io.vtrack.agent.release.ReleaseBuilder;
import io.vtrack.agent.runtime.CommandPolicy;
import io.vtrack.agent.runtime.CommandRunner;
import io.vtrack.agent.runtime.ComposeRuntime;
import io.vtrack.agent.runtime.LogFiles;
import io.vtrack.agent.runtime.ProcessRuntime;
import io.vtrack.agent.runtime.Runtimes;
import io.vtrack.agent.source.DesiredStateRegistry;
import io.vtrack.agent.store.StateStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent: wires the state store, sources, reconciler, runtime and API, all confined to this
 * verticle's context. Stopping it never stops the app.
 */
public final class Agent extends VerticleBase {
  private static final Logger LOG = LoggerFactory.getLogger(Agent.class);

  /** How long a stopping agent lets a deletion policy being applied finish (services stopping). */
  static final Duration DELETION_GRACE = Duration.ofSeconds(20);

  /** How often captured service output is looked at for rotation. */
  static final long LOG_ROTATION_MILLIS = 250;

  private final AgentConfig config;

  /** Whether a pass of log rotation is running (one at a time). */
  private final java.util.concurrent.atomic.AtomicBoolean rotating =
      new java.util.concurrent.atomic.AtomicBoolean();

  private final Path baseDir;
  private Context ctx;
  private StateStore store;
  private GitRepositories repos;
  private ProcessRuntime runtime;
  private Runtimes runtimes;
  private DesiredStateRegistry registry;
  private Reconciler reconciler;
  private ApiServer api;
  private SourceFeeds feeds;
  private final List<Long> timers = new ArrayList<>();
  private volatile boolean ready;

  /** Set by {@link #stop}: a proxy that dies with the agent is not looked after any more. */
  private volatile boolean stopping;

  private String token;
  private Watchdog watchdog;
  private ProxySupervisor proxy;
  private ProxyWatch proxyWatch;
  private WorkerExecutor checkPool;

  /**
   * @param baseDir the folder relative {@code file:} source paths are resolved against (the folder
   *     of agent.yaml)
   */
  public Agent(AgentConfig config, Path baseDir) {
    this.config = config;
    this.baseDir = baseDir;
  }

  public int port() {
    return api.port();
  }

  public String token() {
    return token;
  }

  public boolean isReady() {
    return ready;
  }

  /**
   * The options of the Vert.x the agent and the switch proxy run on: no classpath resolving, so no
   * {@code vertx-cache-*} folder in /tmp, which a process that is killed (power loss, OOM) leaves
   * behind. The status page is served from memory ({@code StatusPage}).
   */
  public static io.vertx.core.VertxOptions vertxOptions() {
    return new io.vertx.core.VertxOptions()
        .setFileSystemOptions(
            new io.vertx.core.file.FileSystemOptions()
                .setClassPathResolvingEnabled(false)
                .setFileCachingEnabled(false));
  }

  /**
   * SQLite's native library (and the switch proxy's epoll) is unpacked and loaded from a folder: by
   * default /tmp, which hardened hosts and containers ({@code --read-only --tmpfs /tmp}) mount
   * noexec, so loading fails. The state folder is the agent's own and must be writable anyway:
   * {@code <stateDir>/tmp/} unless {@code org.sqlite.tmpdir} or {@code io.netty.native.workdir} is
   * set.
   */
  public static void nativeLibraryFolder(Path stateDir) throws IOException {
    for (String property : List.of("org.sqlite.tmpdir", "io.netty.native.workdir")) {
      if (System.getProperty(property) == null) {
        Path dir = Files.createDirectories(stateDir.resolve("tmp"));
        System.setProperty(property, dir.toString());
      }
    }
  }

  @Override
  public Future<?> start() {
    ctx = vertx.getOrCreateContext();
    watchdog = new Watchdog(vertx);
    CommandPolicy policy = CommandPolicy.of(config.allowedCommands());
    // Checks run on their own bounded pool: a slow or stuck check never holds the workers that
    // serve the API and reconciles.
    checkPool = vertx.createSharedWorkerExecutor("vtrack-checks", 8, 5, TimeUnit.MINUTES);
    Path stateDir = config.statePath();
    AgentMetrics metrics = new AgentMetrics();
    return vertx
        .executeBlocking(
            () -> {
              StrayProcesses.refuseSecondCopy(stateDir);
              try {
                StateStore.createFolder(stateDir);
                nativeLibraryFolder(stateDir);
              } catch (IOException e) {
                throw new IllegalStateException("stateDir: " + IoErrors.describe(e), e);
              }
              store = StateStore.open(stateDir);
              int left = CommandRunner.sweepLeftOutput(Duration.ofMinutes(1));
              if (left > 0) {
                LOG.info("{} command output file(s) left by a killed agent are deleted", left);
              }
              int interrupted = store.rollouts().interruptOpenSteps();
              if (interrupted > 0) {
                LOG.info(
                    "{} rollout step(s) left open by a stop are closed as interrupted",
                    interrupted);
              }
              try {
                token = ApiToken.ensure(config.tokenPath());
              } catch (IOException e) {
                throw new IllegalStateException("auth.tokenFile: " + IoErrors.describe(e), e);
              }
              checkWebhookSecrets();
              repos =
                  new GitRepositories(stateDir.resolve("repos"), config.gitTimeout().duration());
              runtime =
                  new ProcessRuntime(
                      store,
                      (dep, svc) ->
                          ctx.runOnContext(
                              v ->
                                  reconciler.servicesChanged(
                                      io.vtrack.agent.store.Instance.deploymentOf(dep))),
                      policy);
              runtime.adopt();
              StrayProcesses.stopUnrecorded(store, stateDir);
              runtimes =
                  new Runtimes(
                      runtime,
                      () ->
                          ComposeRuntime.open(
                              vertx,
                              null,
                              (dep, svc) ->
                                  ctx.runOnContext(
                                      v ->
                                          reconciler.servicesChanged(
                                              io.vtrack.agent.store.Instance.deploymentOf(dep))),
                              () ->
                                  ctx.runOnContext(
                                      // The engine (re)connected: whatever happened meanwhile
                                      // is read afresh by a reconcile of every deployment.
                                      v -> reconciler.engineReconnected())));
              return null;
            })
        .compose(
            v -> {
              registry = new DesiredStateRegistry(config.agentName());
              proxy =
                  new ProxySupervisor(
                      stateDir, config.tokenPath(), token, config.proxy().external());
              proxy.onDeath(
                  () ->
                      ctx.runOnContext(
                          x -> {
                            if (proxyWatch != null && !stopping) {
                              proxyWatch.check();
                            }
                          }));
              var http = CheckFactory.httpClient(vertx);
              reconciler =
                  new Reconciler(
                      new Reconciler.Wiring(
                          vertx,
                          store,
                          registry,
                          repos,
                          new ReleaseBuilder(repos, store.releases()),
                          runtimes,
                          new BackupManager(
                              store, Duration.ofMinutes(5), config.retention().failedCopies()),
                          new CheckFactory(checkPool, http, policy),
                          metrics,
                          new Notifier(
                              vertx,
                              http,
                              store,
                              config.agentName(),
                              "http://" + config.listen() + "/"),
                          stateDir,
                          policy,
                          config.retention().rollouts(),
                          proxy));
              reconciler.onStatus(
                  n -> {
                    var st = reconciler.status(n);
                    metrics.phase(n, st == null ? null : st.phase().name());
                  });
              proxyWatch = new ProxyWatch(vertx, proxy, registry, reconciler);
              feeds =
                  new SourceFeeds(vertx, ctx, config, baseDir, store, repos, registry, reconciler);
              api =
                  new ApiServer(
                      vertx,
                      registry,
                      reconciler,
                      new DeploymentViews(store, repos),
                      metrics,
                      token,
                      new ApiServer.Sources() {
                        @Override
                        public Future<List<String>> secrets() {
                          return vertx.executeBlocking(feeds::webhookSecrets, false);
                        }

                        @Override
                        public void refreshAll(String delivery) {
                          ctx.runOnContext(x -> feeds.refreshEverything(delivery));
                        }

                        @Override
                        public Future<Void> refresh(String deployment) {
                          Promise<Void> done = Promise.promise();
                          ctx.runOnContext(x -> feeds.refresh(deployment).onComplete(done));
                          return done.future();
                        }
                      },
                      () -> !ready ? "starting" : watchdog.stuck(),
                      config::agentName,
                      config.allowedHosts());
              return api.listen(config.host(), config.port())
                  .recover(
                      err ->
                          Future.failedFuture(
                              new IllegalStateException(
                                  "listen: cannot listen on "
                                      + config.listen()
                                      + ": "
                                      + err.getMessage(),
                                  err)));
            })
        .compose(
            server -> {
              LOG.info(
                  "agent {} listening on {}:{}, state in {}",
                  config.agentName(),
                  config.host(),
                  server.actualPort(),
                  stateDir);
              return feeds.initialSync();
            })
        .onSuccess(
            v -> {
              ready = true;
              watchdog.start();
              scheduleSources();
            });
  }

  private void scheduleSources() {
    proxyWatch.check();
    timers.add(vertx.setPeriodic(1000, id -> proxyWatch.check()));
    JarWatch jar = JarWatch.ofThisJvm();
    if (jar != null) {
      timers.add(jar.watch(vertx, "agent"));
    }
    feeds.schedule();
    // Services write their logs directly; the agent caps them by rotating in place, often enough
    // that a flood of output (hundreds of MB a second) does not fill the disk between two looks.
    timers.add(
        vertx.setPeriodic(
            LOG_ROTATION_MILLIS,
            id -> {
              // One pass at a time: a pass still copying when the next tick comes is not doubled.
              if (rotating.compareAndSet(false, true)) {
                vertx
                    .executeBlocking(
                        () -> {
                          List<Path> rotated =
                              ProcessRuntime.rotateLogs(config.statePath().resolve("deployments"));
                          // The switch proxy's own output (its errors) is capped the same way.
                          LogFiles.rotateIfNeeded(
                              config.statePath().resolve("proxy/proxy.log"),
                              LogFiles.DEFAULT_MAX_BYTES,
                              LogFiles.DEFAULT_KEEP);
                          return rotated;
                        },
                        false)
                    .onComplete(x -> rotating.set(false));
              }
            }));
  }

  /** Every git source's webhookSecretFile can be read and holds a secret, or the start fails. */
  private void checkWebhookSecrets() {
    for (int i = 0; i < config.sources().size(); i++) {
      var git = config.sources().get(i).git();
      if (git != null && git.webhookSecretFile() != null) {
        try {
          io.vtrack.agent.source.GitSource.readSecret(git.webhookSecretFile());
        } catch (IOException e) {
          throw new IllegalStateException(
              "sources[" + i + "].git.webhookSecretFile: " + IoErrors.describe(e), e);
        }
      }
    }
  }

  @Override
  public Future<?> stop() {
    ready = false;
    stopping = true;
    if (watchdog != null) {
      watchdog.stop();
    }
    Future<Void> released = feeds == null ? Future.succeededFuture() : feeds.stop();
    timers.forEach(vertx::cancelTimer);
    Future<Void> settled =
        reconciler == null ? Future.succeededFuture() : reconciler.stop(DELETION_GRACE);
    Future<Void> closed = api == null ? Future.succeededFuture() : api.close();
    // The runtimes and the store close whatever else failed to stop.
    return Future.join(settled, closed, released)
        .eventually(
            () ->
                vertx.executeBlocking(
                    () -> {
                      if (runtimes != null) {
                        runtimes.close();
                      }
                      if (store != null) {
                        store.close();
                      }
                      return null;
                    }));
  }
}
