package io.vtrack.agent;

import io.vertx.core.Context;
import io.vertx.core.Future;
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

  private final Vertx vertx;
  private final Context ctx;
  private final AgentConfig config;
  private final Path baseDir;
  private final StateStore store;
  private final DesiredStateRegistry registry;
  private final Reconciler reconciler;
  private final DocumentIntake intake;
  private final FeedWorkers workers;
  private final AppFetches apps;

  /** Why each git source that does not answer failed last (on the event loop). */
  private final Map<String, String> sourceTrouble = new HashMap<>();

  private final List<GitSource> gitSources = new ArrayList<>();
  private final List<FileSource> fileSources = new ArrayList<>();
  private final KubeFeeds kube;
  private final Set<String> syncing = new HashSet<>();
  private final Set<String> syncAgain = new HashSet<>();

  private final List<Long> timers = new ArrayList<>();
  private volatile boolean stopping;

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
    this.workers = new FeedWorkers(ctx);
    this.apps = new AppFetches(vertx, workers, intake, registry, reconciler);
    this.kube =
        new KubeFeeds(
            vertx,
            ctx,
            config,
            baseDir,
            registry,
            reconciler,
            (docs, trigger) -> apps.fetch(docs, true, trigger),
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
   * Stops polling and starts no more reads; waits for those in flight ({@link FeedWorkers#stop});
   * lets go of the Leases held ({@link KubeFeeds#stop}).
   */
  Future<Void> stop() {
    stopping = true;
    timers.forEach(vertx::cancelTimer);
    return Future.join(workers.stop(), kube.stop()).mapEmpty();
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
    return apps.fetch(List.of(e.document()), true, "api").mapEmpty();
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
    apps.fetch(docs, !poll, trigger)
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
    return workers
        .read(
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
              return docs;
            })
        // App repositories first, so a new revision resolves as soon as its document is seen.
        .compose(
            docs -> apps.fetch(docs, true, "poll " + g.id()).map(news -> Map.entry(docs, news)))
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
    return workers
        .read(
            () -> {
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
                apps.fetch(held, false, "poll " + f.id())
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
              return apps.fetch(docs, true, trigger + " " + f.id())
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
