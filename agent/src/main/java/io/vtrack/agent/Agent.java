package io.vtrack.agent;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.vertx5.Vertx5HttpClientFactory;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.http.HttpClientOptions;
import io.vtrack.agent.api.ApiServer;
import io.vtrack.agent.api.DeploymentViews;
import io.vtrack.agent.backup.BackupManager;
import io.vtrack.agent.check.CheckFactory;
import io.vtrack.agent.config.AgentConfig;
import io.vtrack.agent.kube.KubeSource;
import io.vtrack.agent.kube.KubeStatusWriter;
import io.vtrack.agent.metrics.AgentMetrics;
import io.vtrack.agent.notify.Notifier;
import io.vtrack.agent.proxy.ProxySupervisor;
import io.vtrack.agent.proxy.Routes;
import io.vtrack.agent.reconcile.Reconciler;
import io.vtrack.agent.release.GitRepositories;
import io.vtrack.agent.release.ReleaseBuilder;
import io.vtrack.agent.runtime.CommandPolicy;
import io.vtrack.agent.runtime.ComposeRuntime;
import io.vtrack.agent.runtime.OrphanScan;
import io.vtrack.agent.runtime.ProcessRuntime;
import io.vtrack.agent.runtime.Runtimes;
import io.vtrack.agent.runtime.Signaller;
import io.vtrack.agent.source.DesiredDocument;
import io.vtrack.agent.source.DesiredStateRegistry;
import io.vtrack.agent.source.FileSource;
import io.vtrack.agent.source.GitSource;
import io.vtrack.agent.source.UnsourcedDeployments;
import io.vtrack.agent.store.StateStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
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
  static final java.time.Duration DELETION_GRACE = java.time.Duration.ofSeconds(20);

  private final AgentConfig config;
  private final Path baseDir;
  private Context ctx;
  private StateStore store;
  private GitRepositories repos;
  private ProcessRuntime runtime;
  private final List<KubeSource> kubeSources = new ArrayList<>();
  private Runtimes runtimes;
  private DesiredStateRegistry registry;
  private Reconciler reconciler;
  private ApiServer api;
  private final List<GitSource> gitSources = new ArrayList<>();
  private final List<FileSource> fileSources = new ArrayList<>();
  private final Set<String> syncing = new HashSet<>();
  private final Set<String> syncAgain = new HashSet<>();
  private final List<Long> timers = new ArrayList<>();
  private volatile boolean stopping;
  private volatile boolean ready;
  private String token;
  private Watchdog watchdog;
  private ProxySupervisor proxy;
  private boolean proxyCheck;
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
   * SQLite's native library (and the switch proxy's epoll) is unpacked and loaded from a folder: by
   * default /tmp, which hardened hosts and containers ({@code --read-only --tmpfs /tmp}) mount
   * noexec, so loading fails. The state folder is the agent's own and must be writable anyway:
   * {@code <stateDir>/tmp/} unless {@code org.sqlite.tmpdir} or {@code io.netty.native.workdir} is
   * set.
   */
  public static void nativeLibraryFolder(Path stateDir) throws java.io.IOException {
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
              refuseSecondCopy(stateDir);
              try {
                StateStore.createFolder(stateDir);
                nativeLibraryFolder(stateDir);
              } catch (java.io.IOException e) {
                throw new IllegalStateException("stateDir: " + IoErrors.describe(e), e);
              }
              store = StateStore.open(stateDir);
              int interrupted = store.rollouts().interruptOpenSteps();
              if (interrupted > 0) {
                LOG.info(
                    "{} rollout step(s) left open by a stop are closed as interrupted",
                    interrupted);
              }
              try {
                token = ApiToken.ensure(config.tokenPath());
              } catch (java.io.IOException e) {
                throw new IllegalStateException("auth.tokenFile: " + IoErrors.describe(e), e);
              }
              repos =
                  new GitRepositories(stateDir.resolve("repos"), config.gitTimeout().duration());
              runtime =
                  new ProcessRuntime(
                      store,
                      (dep, svc) ->
                          ctx.runOnContext(
                              v ->
                                  reconciler.enqueue(
                                      io.vtrack.agent.store.Instance.deploymentOf(dep))),
                      policy);
              runtime.adopt();
              stopUnrecorded(stateDir);
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
                                          reconciler.enqueue(
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
              proxy = new ProxySupervisor(stateDir, token, config.proxy().external());
              proxy.onDeath(() -> ctx.runOnContext(x -> watchProxy()));
              var http = vertx.createHttpClient(new HttpClientOptions().setKeepAlive(false));
              reconciler =
                  new Reconciler(
                      new Reconciler.Wiring(
                          vertx,
                          store,
                          registry,
                          repos,
                          new ReleaseBuilder(repos),
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
              for (int i = 0; i < config.sources().size(); i++) {
                AgentConfig.SourceConfig s = config.sources().get(i);
                if (s.git() != null) {
                  gitSources.add(new GitSource(i, s.git(), repos));
                } else if (s.file() != null) {
                  FileSource f = new FileSource(i, s.file(), baseDir);
                  if (!f.exists()) {
                    LOG.warn(
                        "{}: {} does not exist (yet): no documents from it until it does",
                        f.id(),
                        s.file().path());
                  }
                  fileSources.add(f);
                } else {
                  kubeSources.add(kubeSource(i, s.kubernetes()));
                }
              }
              api =
                  new ApiServer(
                      vertx,
                      registry,
                      reconciler,
                      new DeploymentViews(store, repos),
                      metrics,
                      token,
                      new ApiServer.Webhooks() {
                        @Override
                        public Future<List<String>> secrets() {
                          return vertx.executeBlocking(
                              () -> {
                                List<String> out = new ArrayList<>();
                                for (GitSource g : gitSources) {
                                  String s = g.webhookSecret();
                                  if (s != null && !s.isEmpty()) {
                                    out.add(s);
                                  }
                                }
                                return out;
                              },
                              false);
                        }

                        @Override
                        public void refreshAll(String delivery) {
                          ctx.runOnContext(x -> refreshEverything(delivery));
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
              return initialSync();
            })
        .onSuccess(
            v -> {
              ready = true;
              watchdog.start();
              scheduleSources();
            });
  }

  /**
   * With no state store but app processes started from this state folder still running, starting
   * afresh would start a second copy of each: refuse, and say what to do.
   */
  private static void refuseSecondCopy(Path stateDir) {
    if (Files.exists(StateStore.file(stateDir))) {
      return;
    }
    List<OrphanScan.Found> running = OrphanScan.find(stateDir);
    if (!running.isEmpty()) {
      throw new IllegalStateException(
          "the state store "
              + StateStore.file(stateDir)
              + " is missing, but processes started from "
              + stateDir
              + " still run (pids "
              + running.stream().map(f -> Long.toString(f.pid())).toList()
              + " of "
              + running.stream().map(OrphanScan.Found::deployment).distinct().toList()
              + "). Starting with an empty store would start a second copy of each. Restore"
              + " state.db from a copy, or stop those processes, then start the agent again;"
              + " nothing was changed.");
    }
  }

  /**
   * A process started from this state folder for a deployment the store knows, but with no row of
   * its own (the agent was killed between starting it and recording it): stopped, since the stage
   * that started it runs again and the store must account for everything that runs.
   */
  private void stopUnrecorded(Path stateDir) throws Exception {
    Set<String> known = new HashSet<>();
    for (var d : store.deployments().all()) {
      known.add(d.name());
    }
    Set<Long> recorded = new HashSet<>();
    for (var p : store.processes().all()) {
      recorded.add(p.pgid());
    }
    for (OrphanScan.Found f : OrphanScan.find(stateDir)) {
      if (known.contains(f.deployment()) && !recorded.contains(f.pgid())) {
        LOG.warn(
            "{}: pid {} was started here but never recorded (the agent was killed meanwhile):"
                + " stopping it",
            f.deployment(),
            f.pid());
        Signaller.stopGroup(f.pgid(), "TERM", Duration.ofSeconds(10));
      }
    }
  }

  /**
   * Reads every source once, then applies deletions for documents gone while the agent was down:
   * only a source that answered removes a deployment ({@link UnsourcedDeployments}).
   */
  private Future<Void> initialSync() {
    Map<String, Future<Boolean>> all = new java.util.LinkedHashMap<>();
    for (GitSource g : gitSources) {
      all.put(g.id(), syncGit(g, "startup"));
    }
    for (FileSource f : fileSources) {
      all.put(f.id(), syncFile(f, "startup", null));
    }
    for (KubeSource k : kubeSources) {
      all.put(k.id(), startKube(k));
    }
    return Future.join(List.copyOf(all.values()))
        .transform(
            ar -> {
              return vertx
                  .executeBlocking(() -> store.deployments().all(), false)
                  .map(
                      known -> {
                        // Read here, on the event loop: a kubernetes list that came after the
                        // wait is in the registry already, and its source has answered.
                        Map<String, Boolean> answered = new HashMap<>();
                        all.forEach(
                            (id, f) ->
                                answered.put(
                                    id, kubeListed.contains(id) || (f.succeeded() && f.result())));
                        var d = UnsourcedDeployments.decide(known, registry.names(), answered);
                        d.held()
                            .forEach(
                                (source, docs) -> {
                                  registry.update(source, docs);
                                  for (DesiredDocument doc : docs) {
                                    LOG.warn("{}: {}", doc.name(), doc.errors().get(0).message());
                                  }
                                });
                        for (String name : registry.names()) {
                          reconciler.enqueue(name, "startup");
                        }
                        for (DesiredDocument gone : d.removed()) {
                          // Shown (Deleting) until its deletion policy has run, as a document
                          // removed while the agent runs is.
                          reconciler.leaving(
                              gone,
                              known.stream()
                                  .filter(row -> row.name().equals(gone.name()))
                                  .map(row -> row.statusJson())
                                  .findFirst()
                                  .orElse(null));
                          reconciler.enqueue(gone.name());
                        }
                        return (Void) null;
                      });
            });
  }

  /**
   * The switch proxy of blue-green deployments runs in its own process; one that died (or never
   * came back after a reboot) is started again at once, into the routes it served.
   */
  private void watchProxy() {
    if (proxyCheck) {
      return;
    }
    proxyCheck = true;
    vertx
        .executeBlocking(
            () -> {
              List<Routes.Route> routes = proxy.routes();
              // The status the deployments report is the probe: one loopback call a second.
              if (!routes.isEmpty() && proxy.reportedStatus() == null) {
                try {
                  proxy.ensure();
                  proxyTrouble = null;
                } catch (java.io.IOException e) {
                  // Logged once per cause (a sidecar can be away for a while); the deployments'
                  // status says it meanwhile.
                  String why = String.valueOf(e.getMessage());
                  if (!why.equals(proxyTrouble)) {
                    LOG.warn("switch proxy: {}", why);
                  }
                  proxyTrouble = why;
                }
              } else {
                proxyTrouble = null;
              }
              return proxyConditions(routes);
            },
            false)
        .onComplete(
            ar -> {
              proxyCheck = false;
              if (ar.failed()) {
                LOG.warn("switch proxy: {}", ar.cause().getMessage());
                return;
              }
              // A deployment whose public addresses changed condition (one taken by another
              // process, freed again, the proxy restarted) publishes its status afresh now, not at
              // its next rollout or failing round.
              Map<String, String> now = ar.result();
              Set<String> concerned = new HashSet<>(now.keySet());
              concerned.addAll(proxyConditions.keySet());
              for (String name : concerned) {
                if (!Objects.equals(now.get(name), proxyConditions.get(name))
                    && registry.get(name) != null) {
                  reconciler.enqueue(name);
                }
              }
              proxyConditions = now;
            });
  }

  /** The last failure to have a proxy answer, logged once (set on workers, one at a time). */
  private volatile String proxyTrouble;

  /** What a deployment's status last said of its public addresses, by deployment. */
  private Map<String, String> proxyConditions = Map.of();

  /**
   * By deployment with routes: the proxy's pid and the addresses it cannot listen on, or that it
   * does not answer. Blocking (a loopback call, at most once a second).
   */
  private Map<String, String> proxyConditions(List<Routes.Route> routes) {
    if (routes.isEmpty()) {
      return Map.of();
    }
    Map<String, Object> st = proxy.reportedStatus();
    Map<String, String> out = new HashMap<>();
    for (Routes.Route r : routes) {
      out.put(r.deployment(), st == null ? "not answering" : "pid " + st.get("pid"));
    }
    if (st != null && st.get("routes") instanceof List<?> served) {
      for (Object o : served) {
        if (o instanceof Map<?, ?> r && Boolean.FALSE.equals(r.get("listening"))) {
          out.merge(String.valueOf(r.get("deployment")), "; " + r.get("error"), String::concat);
        }
      }
    }
    return out;
  }

  private void scheduleSources() {
    watchProxy();
    timers.add(vertx.setPeriodic(1000, id -> watchProxy()));
    for (GitSource g : gitSources) {
      timers.add(vertx.setPeriodic(g.config().interval().millis(), id -> syncGit(g, "poll")));
    }
    for (FileSource f : fileSources) {
      String[] last = {null};
      timers.add(
          vertx.setPeriodic(
              f.config().interval().millis(), id -> syncFile(f, "file-change", last)));
    }
    // Services write their logs directly; the agent caps them by rotating in place.
    timers.add(
        vertx.setPeriodic(
            Duration.ofSeconds(2).toMillis(),
            id ->
                vertx.executeBlocking(
                    () -> ProcessRuntime.rotateLogs(config.statePath().resolve("deployments")),
                    false)));
    if (!fileSources.isEmpty() || !kubeSources.isEmpty()) {
      // App repositories of file- and kubernetes-sourced documents are refreshed on their own
      // schedule (git sources fetch them with every poll).
      timers.add(vertx.setPeriodic(Duration.ofSeconds(30).toMillis(), id -> refreshApps("poll")));
    }
  }

  private void refreshEverything(String trigger) {
    LOG.info("refreshing every source ({})", trigger);
    List<Future<Boolean>> all = new ArrayList<>();
    for (GitSource g : gitSources) {
      all.add(syncGit(g, trigger));
    }
    Future.join(all).onComplete(ar -> refreshApps(trigger));
  }

  /**
   * Fetches every app repository, then asks the deployments to look again: on a poll those whose
   * repository changed, else all.
   */
  private void refreshApps(String trigger) {
    if (stopping) {
      // A fetch ending after the stop asked for another on a worker pool shutting down.
      return;
    }
    if (!syncing.add("apps")) {
      syncAgain.add("apps");
      return;
    }
    List<DesiredDocument> docs = new ArrayList<>();
    for (String n : registry.names()) {
      docs.add(registry.get(n).document());
    }
    vertx
        .executeBlocking(() -> fetchApps(docs), false)
        .onComplete(
            ar -> {
              syncing.remove("apps");
              // A poll asks only deployments whose repository moved (one that finds nothing new
              // is quiet); a refresh someone asked for asks every deployment.
              Set<String> changed = ar.succeeded() && trigger.equals("poll") ? ar.result() : null;
              for (String n : registry.names()) {
                DesiredStateRegistry.Entry e = registry.get(n);
                String url = e == null ? null : e.document().effectiveRepoUrl();
                if (changed == null || url == null || changed.contains(url)) {
                  reconciler.enqueue(n, trigger);
                }
              }
              if (syncAgain.remove("apps")) {
                refreshApps(trigger);
              }
            });
  }

  /**
   * Fetches the app repositories of {@code docs}, each once; failures show in their status. Returns
   * the repositories where something changed (or that failed): their deployments need a look, the
   * others do not.
   */
  private Set<String> fetchApps(List<DesiredDocument> docs) {
    Set<String> done = new HashSet<>();
    Set<String> changed = new HashSet<>();
    for (DesiredDocument d : docs) {
      String url = d.effectiveRepoUrl();
      if (url == null || !done.add(url)) {
        continue;
      }
      try {
        if (repos.fetch(
            url, d.document() == null ? null : d.document().spec().source().credentials())) {
          changed.add(url);
        }
      } catch (Exception e) {
        changed.add(url);
        LOG.warn("{}", e.getMessage());
      }
    }
    return changed;
  }

  private Future<Boolean> syncGit(GitSource g, String trigger) {
    if (stopping) {
      return Future.succeededFuture(false);
    }
    if (!syncing.add(g.id())) {
      syncAgain.add(g.id());
      return Future.succeededFuture(true);
    }
    return vertx
        .executeBlocking(
            () -> {
              List<DesiredDocument> docs;
              try {
                docs = g.read();
              } catch (io.vtrack.agent.release.SourceUnavailableException e) {
                if (!"startup".equals(trigger) || !g.fetchedBefore()) {
                  throw e;
                }
                // Restarted while the git server is away (a power cut took both): the documents
                // of the last fetch, as a running agent keeps the documents it read before.
                docs = g.readLastFetched();
                LOG.warn(
                    "{}: {}; until it answers, the documents of its last fetch are used",
                    g.id(),
                    e.getMessage());
              }
              // App repositories first, so a new revision resolves as soon as its document is seen.
              fetchApps(docs);
              return docs;
            },
            false)
        .map(
            docs -> {
              if (sourceTrouble.remove(g.id()) != null) {
                LOG.info("{}: answers again", g.id());
              }
              apply(g.id(), docs, trigger);
              return true;
            })
        .recover(
            err -> {
              // Said once per cause, not at every poll while the server stays away.
              String why = String.valueOf(err.getMessage());
              if (!why.equals(sourceTrouble.put(g.id(), why))) {
                LOG.warn("{}: {} (keeping the documents read before)", g.id(), why);
              }
              return Future.succeededFuture(false);
            })
        .onComplete(
            ar -> {
              syncing.remove(g.id());
              if (syncAgain.remove(g.id())) {
                syncGit(g, trigger);
              }
            });
  }

  private Future<Boolean> syncFile(FileSource f, String trigger, String[] lastFingerprint) {
    if (stopping) {
      return Future.succeededFuture(false);
    }
    if (!syncing.add(f.id())) {
      return Future.succeededFuture(true);
    }
    return vertx
        .executeBlocking(
            () -> {
              String fp = f.fingerprint();
              if (lastFingerprint != null && fp.equals(lastFingerprint[0])) {
                return null;
              }
              List<DesiredDocument> docs = f.read();
              if (lastFingerprint != null) {
                lastFingerprint[0] = fp;
              }
              // As for git and kubernetes: a new revision resolves as soon as its document is seen.
              fetchApps(docs);
              return docs;
            },
            false)
        .map(
            docs -> {
              if (docs != null) {
                apply(f.id(), docs, trigger);
              }
              return true;
            })
        .recover(
            err -> {
              LOG.warn("{}: {}", f.id(), err.getMessage());
              return Future.succeededFuture(false);
            })
        .onComplete(ar -> syncing.remove(f.id()));
  }

  /** A kubernetes source: a client from the kubeconfig given, else in-cluster or ~/.kube/config. */
  private KubeSource kubeSource(int index, AgentConfig.KubernetesSourceConfig k) {
    Config cfg;
    if (k.kubeconfig() != null) {
      Path file = baseDir.resolve(k.kubeconfig());
      try {
        cfg = Config.fromKubeconfig(Files.readString(file));
      } catch (java.io.IOException | RuntimeException e) {
        throw new IllegalArgumentException(
            "sources[" + index + "].kubernetes.kubeconfig: cannot read " + file + ": " + e, e);
      }
    } else {
      cfg = Config.autoConfigure(null);
    }
    KubernetesClient client =
        new KubernetesClientBuilder()
            .withConfig(cfg)
            .withHttpClientFactory(new Vertx5HttpClientFactory(vertx))
            .build();
    KubeSource[] holder = new KubeSource[1];
    KubeSource src =
        new KubeSource(
            index,
            client,
            k.namespace(),
            config.agentName(),
            Duration.ofMinutes(5).toMillis(),
            KubeSource.Leases.DEFAULT,
            update ->
                // App repositories first, so a new revision resolves as soon as it is seen; on the
                // agent's context and ordered, so updates are applied in the order they came.
                ctx.executeBlocking(
                        () -> {
                          fetchApps(update.docs());
                          return null;
                        },
                        true)
                    .onComplete(ar -> applyKube(holder[0], update)));
    holder[0] = src;
    KubeStatusWriter writer =
        new KubeStatusWriter(vertx, src, config.agentName(), n -> reconciler.status(n));
    reconciler.onStatus(writer::onStatus);
    return src;
  }

  /**
   * Starts a kubernetes source's informer; true once its first list is in, false when it fails or
   * takes longer than {@link #KUBE_FIRST_LIST_WAIT_MILLIS}: startup goes on without it (the
   * deployments the store knows from it are held meanwhile, what runs untouched:
   * UnsourcedDeployments) and the list is applied whenever it comes. An API server that fails is
   * tried again every 10 s.
   */
  private Future<Boolean> startKube(KubeSource k) {
    Promise<Boolean> done = Promise.promise();
    vertx
        .executeBlocking(
            () -> {
              k.start().toCompletableFuture().get(2, TimeUnit.MINUTES);
              // A deployment another agent holds is known as such with the list (applyKube sets
              // both at once), never as a removal.
              KubeSource.Update first = k.snapshot("synced");
              fetchApps(first.docs());
              return first;
            },
            false)
        .onSuccess(
            first -> {
              applyKube(k, first);
              kubeListed.add(k.id());
              done.tryComplete(true);
            })
        .onFailure(
            err -> {
              LOG.error(
                  "{}: cannot list VTrackDeployments ({}); retrying in 10s",
                  k.id(),
                  err.getCause() != null ? err.getCause().getMessage() : err.getMessage());
              done.tryComplete(false);
              if (!stopping) {
                timers.add(vertx.setTimer(10_000, id -> startKube(k)));
              }
            });
    long wait =
        vertx.setTimer(
            KUBE_FIRST_LIST_WAIT_MILLIS,
            id -> {
              if (done.tryComplete(false)) {
                LOG.warn(
                    "{}: no list of VTrackDeployments after {} s; starting without it (it is"
                        + " applied when it comes)",
                    k.id(),
                    KUBE_FIRST_LIST_WAIT_MILLIS / 1000);
              }
            });
    done.future().onComplete(ar -> vertx.cancelTimer(wait));
    return done.future();
  }

  /** How long stopping waits for the Leases held to be let go (the API server may be away). */
  static final long KUBE_RELEASE_WAIT_MILLIS = 5_000;

  /** How long startup waits for a kubernetes source's first list (the API server may be away). */
  static final long KUBE_FIRST_LIST_WAIT_MILLIS = 15_000;

  /** Why each git source that does not answer failed last (on the event loop). */
  private final Map<String, String> sourceTrouble = new HashMap<>();

  /** The kubernetes sources whose first list is in (on the event loop). */
  private final Set<String> kubeListed = new HashSet<>();

  /** On the event loop: what a kubernetes source says this agent acts on, and what it must not. */
  private void applyKube(KubeSource k, KubeSource.Update update) {
    // Both first, then the reconciles: a lease changing hands must never look like a removal.
    Set<String> changed = new HashSet<>(registry.setHeldElsewhere(k.id(), update.heldElsewhere()));
    changed.removeAll(apply(k.id(), update.docs(), update.trigger()));
    for (String n : changed) {
      reconciler.enqueue(n, update.trigger());
    }
  }

  /** The documents no deployment can be attributed to, by source, as last logged. */
  private final Map<String, Set<String>> unattributedLogged = new HashMap<>();

  /** Hands a source's documents to the registry and reconciles what changed; returns those. */
  private Set<String> apply(String sourceId, List<DesiredDocument> docs, String trigger) {
    // Each problem is logged when it appears, not at every poll while it stays.
    Set<String> before = unattributedLogged.getOrDefault(sourceId, Set.of());
    Set<String> now = new HashSet<>();
    for (DesiredDocument d : docs) {
      if (d.name() == null) {
        String what = d.source().file() + ":" + d.source().line() + " " + d.errors();
        now.add(what);
        if (!before.contains(what)) {
          LOG.error(
              "{}: {}:{} cannot be attributed to a deployment: {}",
              sourceId,
              d.source().file(),
              d.source().line(),
              d.errors());
        }
      }
    }
    unattributedLogged.put(sourceId, now);
    Set<String> changed = registry.update(sourceId, docs);
    for (String name : changed) {
      reconciler.enqueue(name, trigger + " " + sourceId);
    }
    return changed;
  }

  @Override
  public Future<?> stop() {
    ready = false;
    stopping = true;
    if (watchdog != null) {
      watchdog.stop();
    }
    // Off the event loop: letting go of a Lease asks the API server and waits for the answer,
    // which may be due on this very thread (a stop that hung for good when it was).
    Future<Void> released =
        kubeSources.isEmpty()
            ? Future.succeededFuture()
            : vertx
                .<Void>executeBlocking(
                    () -> {
                      kubeSources.forEach(KubeSource::close);
                      return null;
                    },
                    false)
                .timeout(KUBE_RELEASE_WAIT_MILLIS, TimeUnit.MILLISECONDS)
                .recover(
                    err -> {
                      // Not let go: the Leases expire on their own (30 s).
                      LOG.warn("cannot let go of the Leases held: {}", err.getMessage());
                      return Future.succeededFuture();
                    });
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
