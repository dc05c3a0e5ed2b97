package io.vtrack.agent;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vtrack.agent.config.AgentConfig;
import io.vtrack.agent.reconcile.Reconciler;
import io.vtrack.agent.release.GitRepositories;
import io.vtrack.agent.source.DesiredDocument;
import io.vtrack.agent.source.DesiredStateRegistry;
import io.vtrack.agent.source.FileSource;
import io.vtrack.agent.source.GitSource;
import io.vtrack.agent.source.UnsourcedDeployments;
import io.vtrack.agent.store.StateStore;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's sources of desired state (git, files, kubernetes) and the app repositories their
 * documents name: read at startup, polled, refreshed on a webhook, and handed to the registry, with
 * a reconcile of every deployment whose document changed. Confined to the agent's context; reading
 * a source and fetching a repository run on workers.
 */
final class SourceFeeds {
  private static final Logger LOG = LoggerFactory.getLogger(SourceFeeds.class);

  /**
   * How long stopping waits for reads in flight (a fetch from a remote that hangs ends only at
   * {@code gitTimeout}); one that ends later finds nobody waiting and drops its result.
   */
  static final long READS_WAIT_MILLIS = 3_000;

  /**
   * How long the documents a source read wait for the fetch of their app repositories before they
   * are applied without it: a new revision resolves as soon as its document is seen when the fetch
   * is quick, and a remote that hangs (up to {@code gitTimeout}) does not hold up an edit of the
   * source's documents, its other deployments or {@code vtrack reconcile}.
   */
  static final long APPS_WAIT_MILLIS = 3_000;

  /**
   * Where reads run: threads of their own, not Vert.x's workers, so that a read that outlives the
   * agent's Vert.x (a fetch from a remote that hangs) ends quietly instead of failing to hand its
   * result to a closed event loop. Daemons: they never hold the JVM.
   */
  private final ExecutorService readers =
      Executors.newCachedThreadPool(daemons("vtrack-source-read"));

  /**
   * Where app repositories are fetched, {@link #FETCHES_AT_ONCE} at a time: many deployments with
   * repositories of their own are fetched side by side, without a burst of connections to one git
   * host at every look.
   */
  private final ExecutorService fetchers =
      Executors.newFixedThreadPool(FETCHES_AT_ONCE, daemons("vtrack-fetch"));

  static final int FETCHES_AT_ONCE = 8;

  private static ThreadFactory daemons(String name) {
    return r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    };
  }

  private final Vertx vertx;
  private final Context ctx;
  private final AgentConfig config;
  private final Path baseDir;
  private final StateStore store;
  private final DesiredStateRegistry registry;
  private final Reconciler reconciler;
  private final DocumentIntake intake;

  /** Why each git source that does not answer failed last (on the event loop). */
  private final Map<String, String> sourceTrouble = new HashMap<>();

  private final List<GitSource> gitSources = new ArrayList<>();
  private final List<FileSource> fileSources = new ArrayList<>();
  private final KubeFeeds kube;
  private final Set<String> syncing = new HashSet<>();
  private final Set<String> syncAgain = new HashSet<>();

  /** The app repositories being fetched, each with its fetch (on the event loop). */
  private final Map<String, Future<Void>> fetching = new HashMap<>();

  private final List<Long> timers = new ArrayList<>();
  private volatile boolean stopping;

  /** Reads of sources and fetches of app repositories running on workers (on the event loop). */
  private final Set<Future<?>> reading = new HashSet<>();

  /**
   * @param baseDir the folder relative {@code file:} source paths and kubeconfigs are resolved
   *     against (the folder of agent.yaml)
   */
  SourceFeeds(
      Vertx vertx,
      Context ctx,
      AgentConfig config,
      Path baseDir,
      StateStore store,
      GitRepositories repos,
      DesiredStateRegistry registry,
      Reconciler reconciler) {
    this.vertx = vertx;
    this.ctx = ctx;
    this.config = config;
    this.baseDir = baseDir;
    this.store = store;
    this.registry = registry;
    this.reconciler = reconciler;
    this.intake = new DocumentIntake(repos, registry, reconciler);
    this.kube =
        new KubeFeeds(
            vertx,
            ctx,
            config,
            baseDir,
            registry,
            reconciler,
            (docs, trigger) -> fetchApps(docs, true, trigger),
            intake::apply);
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
        kube.add(i, s.kubernetes());
      }
    }
  }

  /** The webhook secrets of the git sources (blocking: they are read from their files). */
  List<String> webhookSecrets() throws IOException {
    List<String> out = new ArrayList<>();
    for (GitSource g : gitSources) {
      String s = g.webhookSecret();
      if (s != null && !s.isEmpty()) {
        out.add(s);
      }
    }
    return out;
  }

  /** Polls every source on its interval, and the app repositories of kubernetes documents. */
  void schedule() {
    for (GitSource g : gitSources) {
      timers.add(vertx.setPeriodic(g.config().interval().millis(), id -> syncGit(g, "poll")));
    }
    for (FileSource f : fileSources) {
      String[] last = {null};
      timers.add(
          vertx.setPeriodic(
              f.config().interval().millis(), id -> syncFile(f, "file-change", last)));
    }
    if (!kube.isEmpty()) {
      // App repositories of kubernetes-sourced documents are refreshed on their own schedule (a
      // watch has no interval; git and file sources fetch them with every poll).
      timers.add(vertx.setPeriodic(Duration.ofSeconds(30).toMillis(), id -> refreshApps("poll")));
    }
  }

  /**
   * Stops polling and starts no more reads; waits for those in flight, for at most {@link
   * #READS_WAIT_MILLIS}; lets go of the Leases held ({@link KubeFeeds#stop}).
   */
  Future<Void> stop() {
    stopping = true;
    timers.forEach(vertx::cancelTimer);
    readers.shutdown();
    fetchers.shutdown();
    Future<Void> reads =
        Future.join(List.copyOf(reading))
            .<Void>mapEmpty()
            .timeout(READS_WAIT_MILLIS, TimeUnit.MILLISECONDS)
            .otherwiseEmpty();
    return Future.join(reads, kube.stop()).mapEmpty();
  }

  /** Runs a read on a worker, known to {@link #stop} until it ends (on the event loop). */
  private <T> Future<T> read(Callable<T> task) {
    return read(readers, task);
  }

  private <T> Future<T> read(ExecutorService on, Callable<T> task) {
    Promise<T> p = Promise.promise();
    Future<T> f = p.future();
    reading.add(f);
    f.onComplete(ar -> reading.remove(f));
    on.execute(
        () -> {
          io.vertx.core.Handler<Void> handOver;
          try {
            T value = task.call();
            handOver = v -> p.tryComplete(value);
          } catch (Throwable e) {
            handOver = v -> p.tryFail(e);
          }
          try {
            ctx.runOnContext(handOver);
          } catch (RejectedExecutionException e) {
            LOG.debug("a source read ended after the agent stopped: {}", e.getMessage());
          }
        });
    return f;
  }

  /**
   * Reads every source once, then applies deletions for documents gone while the agent was down:
   * only a source that answered removes a deployment ({@link UnsourcedDeployments}).
   */
  Future<Void> initialSync() {
    Map<String, Future<Boolean>> all = new LinkedHashMap<>();
    for (GitSource g : gitSources) {
      all.put(g.id(), syncGit(g, "startup"));
    }
    for (FileSource f : fileSources) {
      all.put(f.id(), syncFile(f, "startup", null));
    }
    all.putAll(kube.start());
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
                                answered.put(id, kube.listed(id) || (f.succeeded() && f.result())));
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

  void refreshEverything(String trigger) {
    LOG.info("refreshing every source ({})", trigger);
    List<Future<Boolean>> all = new ArrayList<>();
    for (GitSource g : gitSources) {
      all.add(syncGit(g, trigger));
    }
    Future.join(all).onComplete(ar -> refreshApps(trigger));
  }

  /**
   * Reads the git source that holds {@code name}'s document (its app repositories with it), or
   * fetches the app repository of a document from a file or the cluster: a reconcile someone asks
   * for works from the revision as it is now, not as the last poll saw it. A source that does not
   * answer is said as on a poll, and the reconcile goes on with what was read before.
   */
  Future<Void> refresh(String name) {
    DesiredStateRegistry.Entry e = registry.get(name);
    if (e == null || stopping) {
      return Future.succeededFuture();
    }
    for (GitSource g : gitSources) {
      if (g.id().equals(e.document().source().sourceId())) {
        return syncGit(g, "api").mapEmpty();
      }
    }
    return fetchApps(List.of(e.document()), true, "api").mapEmpty();
  }

  /**
   * Fetches the app repositories of {@code docs}, each on a worker of its own, and completes with
   * the deployments that have news ({@link DocumentIntake#fetchRepo}), or with those known once
   * {@link #APPS_WAIT_MILLIS} have passed: the caller then goes on with the repositories as they
   * are, and a deployment with news found later is looked at then ({@code trigger}). A repository
   * whose fetch is under way for another caller is not fetched twice: with {@code join}, these
   * documents' revisions are resolved again once that fetch ends; without, it is left to it.
   */
  private Future<Set<String>> fetchApps(List<DesiredDocument> docs, boolean join, String trigger) {
    Map<String, List<DesiredDocument>> byRepo = DocumentIntake.byRepo(docs);
    Set<String> news = new HashSet<>();
    Promise<Set<String>> answer = Promise.promise();
    int[] left = {byRepo.size()};
    long timer = vertx.setTimer(APPS_WAIT_MILLIS, id -> answer.tryComplete(Set.copyOf(news)));
    Runnable oneDone =
        () -> {
          if (--left[0] <= 0) {
            vertx.cancelTimer(timer);
            answer.tryComplete(Set.copyOf(news));
          }
        };
    byRepo.forEach(
        (url, repoDocs) -> {
          Future<Void> running = fetching.get(url);
          Future<Set<String>> one;
          if (running == null) {
            one = read(fetchers, () -> intake.fetchRepo(url, repoDocs));
            Future<Void> done = one.<Void>mapEmpty().otherwiseEmpty();
            fetching.put(url, done);
            done.onComplete(ar -> fetching.remove(url, done));
          } else if (join) {
            one = running.compose(v -> read(() -> intake.moved(url, repoDocs)));
          } else {
            oneDone.run();
            return;
          }
          one.onComplete(
              ar -> {
                if (ar.failed()) {
                  LOG.warn("{}", ar.cause().getMessage());
                }
                Set<String> found = ar.succeeded() ? ar.result() : Set.of();
                if (answer.future().isComplete()) {
                  // Late: the documents went on without it.
                  for (String n : found) {
                    if (registry.get(n) != null) {
                      reconciler.enqueue(n, trigger);
                    }
                  }
                } else {
                  news.addAll(found);
                }
                oneDone.run();
              });
        });
    if (byRepo.isEmpty()) {
      oneDone.run();
    }
    return answer.future();
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
    boolean poll = trigger.equals("poll");
    fetchApps(docs, !poll, trigger)
        .onComplete(
            ar -> {
              syncing.remove("apps");
              // A poll asks only deployments with news from their repository (one that finds
              // nothing new is quiet); a refresh someone asked for asks every deployment.
              Set<String> news = ar.succeeded() && poll ? ar.result() : null;
              for (String n : registry.names()) {
                DesiredStateRegistry.Entry e = registry.get(n);
                String url = e == null ? null : e.document().effectiveRepoUrl();
                if (news == null || url == null || news.contains(n)) {
                  reconciler.enqueue(n, trigger);
                }
              }
              if (syncAgain.remove("apps")) {
                refreshApps(trigger);
              }
            });
  }

  private Future<Boolean> syncGit(GitSource g, String trigger) {
    if (stopping) {
      return Future.succeededFuture(false);
    }
    if (!syncing.add(g.id())) {
      syncAgain.add(g.id());
      return Future.succeededFuture(true);
    }
    return read(() -> {
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
          return docs;
        })
        // App repositories first, so a new revision resolves as soon as its document is seen.
        .compose(docs -> fetchApps(docs, true, "poll " + g.id()).map(news -> Map.entry(docs, news)))
        .map(
            read -> {
              if (sourceTrouble.remove(g.id()) != null) {
                LOG.info("{}: answers again", g.id());
              }
              intake.apply(g.id(), read.getKey(), trigger, read.getValue());
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

  /**
   * Reads a file source's folder when its files changed, and fetches the app repositories of its
   * documents at every call (DESIGN.md §2: every source interval), so a new head of a branch they
   * follow rolls out within an interval of its push, as with a git source.
   */
  private Future<Boolean> syncFile(FileSource f, String trigger, String[] lastFingerprint) {
    if (stopping) {
      return Future.succeededFuture(false);
    }
    if (!syncing.add(f.id())) {
      return Future.succeededFuture(true);
    }
    // What the registry holds from this source, read on the event loop that owns it.
    List<DesiredDocument> held = new ArrayList<>();
    for (String n : registry.names()) {
      DesiredStateRegistry.Entry e = registry.get(n);
      if (e != null && f.id().equals(e.document().source().sourceId())) {
        held.add(e.document());
      }
    }
    return read(() -> {
          String fp = f.fingerprint();
          if (lastFingerprint != null && fp.equals(lastFingerprint[0])) {
            return null;
          }
          List<DesiredDocument> docs = f.read();
          if (lastFingerprint != null) {
            lastFingerprint[0] = fp;
          }
          return docs;
        })
        .compose(
            docs -> {
              if (docs == null) {
                // The files say the same; a deployment whose revision moved is looked at when the
                // fetch ends, and the next look does not wait for it.
                fetchApps(held, false, "poll " + f.id())
                    .onSuccess(
                        news -> {
                          for (String n : news) {
                            if (registry.get(n) != null) {
                              reconciler.enqueue(n, "poll " + f.id());
                            }
                          }
                        });
                return Future.succeededFuture(true);
              }
              // As for git and kubernetes: a new revision resolves as soon as its document is
              // seen.
              return fetchApps(docs, true, trigger + " " + f.id())
                  .map(
                      news -> {
                        intake.apply(f.id(), docs, trigger, news);
                        return true;
                      });
            })
        .recover(
            err -> {
              LOG.warn("{}: {}", f.id(), err.getMessage());
              return Future.succeededFuture(false);
            })
        .onComplete(ar -> syncing.remove(f.id()));
  }
}
