package io.vtrack.agent;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.vertx5.Vertx5HttpClientFactory;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vtrack.agent.config.AgentConfig;
import io.vtrack.agent.kube.KubeSource;
import io.vtrack.agent.kube.KubeStatusWriter;
import io.vtrack.agent.reconcile.Reconciler;
import io.vtrack.agent.source.DesiredDocument;
import io.vtrack.agent.source.DesiredStateRegistry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The kubernetes sources of {@link SourceFeeds}: for each, an informer on VTrackDeployments with
 * the Leases that say which agent acts on which deployment, and the writer of their {@code
 * .status}. Their documents go to the registry the way the other sources' do.
 */
final class KubeFeeds {
  private static final Logger LOG = LoggerFactory.getLogger(KubeFeeds.class);

  /** How long stopping waits for the Leases held to be let go (the API server may be away). */
  static final long KUBE_RELEASE_WAIT_MILLIS = 5_000;

  /** How long startup waits for a kubernetes source's first list (the API server may be away). */
  static final long KUBE_FIRST_LIST_WAIT_MILLIS = 15_000;

  /**
   * Hands a source's documents to the registry, with the deployments their fetch found news for;
   * returns the deployments it reconciles.
   */
  interface ToRegistry {
    Set<String> apply(
        String sourceId, List<DesiredDocument> docs, String trigger, Set<String> news);
  }

  private final Vertx vertx;
  private final Context ctx;
  private final AgentConfig config;
  private final Path baseDir;
  private final DesiredStateRegistry registry;
  private final Reconciler reconciler;
  private final BiFunction<List<DesiredDocument>, String, Future<Set<String>>> fetchApps;

  /** The last update of any kubernetes source, applied once its fetch ended (on the event loop). */
  private Future<Void> applied = Future.succeededFuture();

  private final ToRegistry toRegistry;
  private final List<KubeSource> sources = new ArrayList<>();
  private final List<Long> retries = new ArrayList<>();
  private boolean stopping;

  /** The kubernetes sources whose first list is in (on the event loop). */
  private final Set<String> listed = new HashSet<>();

  /**
   * @param fetchApps fetches the app repositories of documents (on the event loop), naming the
   *     trigger of a reconcile for news it finds after it answered
   * @param toRegistry hands documents to the registry (on the event loop)
   */
  KubeFeeds(
      Vertx vertx,
      Context ctx,
      AgentConfig config,
      Path baseDir,
      DesiredStateRegistry registry,
      Reconciler reconciler,
      BiFunction<List<DesiredDocument>, String, Future<Set<String>>> fetchApps,
      ToRegistry toRegistry) {
    this.vertx = vertx;
    this.ctx = ctx;
    this.config = config;
    this.baseDir = baseDir;
    this.registry = registry;
    this.reconciler = reconciler;
    this.fetchApps = fetchApps;
    this.toRegistry = toRegistry;
  }

  /** Adds the source at {@code sources[index]} (not started yet). */
  void add(int index, AgentConfig.KubernetesSourceConfig k) {
    sources.add(source(index, k));
  }

  boolean isEmpty() {
    return sources.isEmpty();
  }

  /** Starts every source; by id, whether its first list came in time (see {@link #start}). */
  Map<String, Future<Boolean>> start() {
    Map<String, Future<Boolean>> all = new LinkedHashMap<>();
    for (KubeSource k : sources) {
      all.put(k.id(), start(k));
    }
    return all;
  }

  /** Whether the source {@code id}'s first list is in (on the event loop). */
  boolean listed(String id) {
    return listed.contains(id);
  }

  /**
   * Stops retrying; lets go of the Leases held (off the event loop: letting go asks the API server
   * and waits for the answer, which may be due on this very thread), for at most {@link
   * #KUBE_RELEASE_WAIT_MILLIS}.
   */
  Future<Void> stop() {
    stopping = true;
    retries.forEach(vertx::cancelTimer);
    if (sources.isEmpty()) {
      return Future.succeededFuture();
    }
    return vertx
        .<Void>executeBlocking(
            () -> {
              sources.forEach(KubeSource::close);
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
  }

  /** A kubernetes source: a client from the kubeconfig given, else in-cluster or ~/.kube/config. */
  private KubeSource source(int index, AgentConfig.KubernetesSourceConfig k) {
    Config cfg;
    if (k.kubeconfig() != null) {
      Path file = baseDir.resolve(k.kubeconfig());
      try {
        cfg = Config.fromKubeconfig(Files.readString(file));
      } catch (IOException | RuntimeException e) {
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
                // agent's context and one after another, so updates are applied in the order they
                // came.
                ctx.runOnContext(
                    v ->
                        applied =
                            applied.transform(
                                ar ->
                                    fetchApps
                                        .apply(update.docs(), update.trigger())
                                        .map(
                                            news -> {
                                              apply(holder[0], update, news);
                                              return null;
                                            }))));
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
  private Future<Boolean> start(KubeSource k) {
    Promise<Boolean> done = Promise.promise();
    vertx
        .executeBlocking(
            () -> {
              k.start().toCompletableFuture().get(2, TimeUnit.MINUTES);
              // A deployment another agent holds is known as such with the list (apply sets
              // both at once), never as a removal.
              return k.snapshot("synced");
            },
            false)
        .compose(
            first ->
                fetchApps.apply(first.docs(), first.trigger()).map(news -> Map.entry(first, news)))
        .onSuccess(
            first -> {
              apply(k, first.getKey(), first.getValue());
              listed.add(k.id());
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
                retries.add(vertx.setTimer(10_000, id -> start(k)));
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

  /** On the event loop: what a kubernetes source says this agent acts on, and what it must not. */
  private void apply(KubeSource k, KubeSource.Update update, Set<String> news) {
    // Both first, then the reconciles: a lease changing hands must never look like a removal.
    Set<String> changed = new HashSet<>(registry.setHeldElsewhere(k.id(), update.heldElsewhere()));
    changed.removeAll(toRegistry.apply(k.id(), update.docs(), update.trigger(), news));
    for (String n : changed) {
      reconciler.enqueue(n, update.trigger());
    }
  }
}
