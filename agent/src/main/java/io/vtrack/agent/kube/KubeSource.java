package io.vtrack.agent.kube;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.MixedOperation;
import io.fabric8.kubernetes.client.dsl.Resource;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.vtrack.agent.model.VTrackDeployment;
import io.vtrack.agent.source.DesiredDocument;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code kubernetes} source: an informer on {@code VTrackDeployment} resources in one namespace
 * or all. Every resource is read as raw JSON and goes through the same strict parser and validator
 * as a git document (so the agent enforces the schema even where the API server does not), with
 * {@code metadata.generation} as its generation. Resources addressed to this agent carry a
 * finalizer, so that a deletion waits until the reconciler has applied {@code deletionPolicy}.
 *
 * <p>Informer callbacks run on fabric8's threads; {@code onChange} must hand the documents on.
 */
public final class KubeSource implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(KubeSource.class);
  public static final String FINALIZER = "vtrack.io/finalizer";
  public static final ResourceDefinitionContext CONTEXT =
      ResourceDefinitionContext.fromResourceType(VTrackDeploymentResource.class);

  private final String id;
  private final KubernetesClient client;
  private final String namespace;
  private final String agentName;
  private final long resyncMillis;
  private final Consumer<Update> onChange;
  private final String identity;

  private final KubeLeases leaseHolder;

  /** Resources being deleted, by deployment name: their finalizer comes off once it is handled. */
  private final Map<String, GenericKubernetesResource> deleting = new ConcurrentHashMap<>();

  /** Where each document of this source lives, by deployment name. */
  private final Map<String, ObjectRef> refs = new ConcurrentHashMap<>();

  /** The resources of {@code refs} as last seen (touched under this object's lock). */
  private final Map<String, GenericKubernetesResource> lastSeen = new HashMap<>();

  /**
   * What this agent can act on, watched through label selectors so that the API server sends it
   * only that: the resources labelled with its name, and the unlabelled ones. (One unfiltered
   * informer per agent made every status change of every resource an event for every agent: with a
   * thousand nodes, a thousand times the watch traffic.)
   */
  private List<SharedIndexInformer<GenericKubernetesResource>> informers = List.of();

  /** A resource's namespace and name. */
  public record ObjectRef(String namespace, String name) {}

  /**
   * What the source says after a change: the documents this agent acts on, and the names of those
   * addressed to it whose Lease another agent holds (or that are not decided yet): those must be
   * left alone, never treated as removed.
   */
  public record Update(List<DesiredDocument> docs, Set<String> heldElsewhere, String trigger) {}

  /** Lease timings: how long a lease lasts, the holder's renew deadline, the retry period. */
  public record Leases(Duration duration, Duration renewDeadline, Duration retry) {
    /**
     * The holder renews every 6 s (one write: 0.17 per second per Lease); another agent takes over
     * at most 30 s after the holder went away.
     */
    public static final Leases DEFAULT =
        new Leases(Duration.ofSeconds(30), Duration.ofSeconds(20), Duration.ofSeconds(6));
  }

  public KubeSource(
      int index,
      KubernetesClient client,
      String namespace,
      String agentName,
      long resyncMillis,
      Leases leases,
      Consumer<Update> onChange) {
    this.id = "kubernetes[" + index + "]:" + (namespace == null ? "*" : namespace);
    this.client = client;
    this.namespace = namespace;
    this.agentName = agentName;
    this.resyncMillis = resyncMillis;
    this.onChange = onChange;
    this.identity = agentName + "_" + UUID.randomUUID().toString().substring(0, 8);
    this.leaseHolder =
        new KubeLeases(client, namespace, agentName, identity, leases, id, this::changed);
  }

  /** This agent's identity in the Leases: its name and a per-process suffix. */
  public String identity() {
    return identity;
  }

  public String id() {
    return id;
  }

  public KubernetesClient client() {
    return client;
  }

  private MixedOperation<
          GenericKubernetesResource,
          io.fabric8.kubernetes.api.model.GenericKubernetesResourceList,
          Resource<GenericKubernetesResource>>
      resources() {
    return client.genericKubernetesResources(CONTEXT);
  }

  /**
   * Starts the informer: it lists, then watches, and re-lists by itself after losing the API
   * server. Completes once the first list is in; fails (and can be started again) when the API
   * server cannot be reached.
   */
  public synchronized CompletionStage<Void> start() {
    informers.forEach(SharedIndexInformer::close);
    var op = resources();
    var scoped = namespace == null ? op.inAnyNamespace() : op.inNamespace(namespace);
    List<SharedIndexInformer<GenericKubernetesResource>> started = new ArrayList<>();
    started.add(scoped.withoutLabel(VTrackDeployment.AGENT_LABEL).runnableInformer(resyncMillis));
    if (LABEL_VALUE.matcher(agentName).matches()) {
      // A name that cannot be a label value is on no resource: the unlabelled ones are all.
      started.add(
          scoped.withLabel(VTrackDeployment.AGENT_LABEL, agentName).runnableInformer(resyncMillis));
    }
    informers = List.copyOf(started);
    List<CompletableFuture<Void>> all = new ArrayList<>();
    for (SharedIndexInformer<GenericKubernetesResource> informer : informers) {
      handle(informer);
      all.add(informer.start().toCompletableFuture());
    }
    return CompletableFuture.allOf(all.toArray(CompletableFuture[]::new));
  }

  private static final Pattern LABEL_VALUE =
      Pattern.compile(io.vtrack.agent.model.SchemaPatterns.LABEL_VALUE);

  private void handle(SharedIndexInformer<GenericKubernetesResource> informer) {
    informer.addEventHandler(
        new ResourceEventHandler<>() {
          @Override
          public void onAdd(GenericKubernetesResource r) {
            changed("added " + describe(r));
          }

          @Override
          public void onUpdate(GenericKubernetesResource before, GenericKubernetesResource r) {
            if (!sameContent(before, r)) {
              changed("updated " + describe(r));
            }
          }

          @Override
          public void onDelete(GenericKubernetesResource r, boolean unknownFinalState) {
            changed("deleted " + describe(r));
          }
        });
  }

  /** A status write or a resync changes neither generation, labels, finalizers nor deletion. */
  private static boolean sameContent(GenericKubernetesResource a, GenericKubernetesResource b) {
    ObjectMeta x = a.getMetadata();
    ObjectMeta y = b.getMetadata();
    return Objects.equals(x.getGeneration(), y.getGeneration())
        && Objects.equals(x.getLabels(), y.getLabels())
        && Objects.equals(x.getFinalizers(), y.getFinalizers())
        && Objects.equals(x.getDeletionTimestamp(), y.getDeletionTimestamp())
        && Objects.equals(
            a.getAdditionalProperties().get("spec"), b.getAdditionalProperties().get("spec"));
  }

  /** Whether the informers have listed at least once and watch now. */
  public boolean synced() {
    return !informers.isEmpty()
        && informers.stream().allMatch(i -> i.hasSynced() && i.isWatching());
  }

  private static String describe(GenericKubernetesResource r) {
    ObjectMeta m = r.getMetadata();
    return m.getNamespace() + "/" + m.getName() + " generation " + m.getGeneration();
  }

  /**
   * Re-reads every resource from the informer's cache and returns what this agent acts on, without
   * handing it on: for the first sync, which the caller applies before anything else. Blocking.
   */
  public Update snapshot(String why) {
    return compute(why);
  }

  /** Re-reads every resource from the informer's cache and hands the documents on. */
  private void changed(String why) {
    Update u = compute(why);
    if (u != null) {
      onChange.accept(u);
    }
  }

  private synchronized Update compute(String why) {
    if (informers.isEmpty()) {
      return null;
    }
    List<DesiredDocument> docs = new ArrayList<>();
    Set<String> elsewhere = new TreeSet<>();
    Map<String, ObjectRef> seen = new LinkedHashMap<>();
    Set<String> competing = new HashSet<>();
    List<GenericKubernetesResource> all = new ArrayList<>();
    Set<String> inStores = new HashSet<>();
    for (SharedIndexInformer<GenericKubernetesResource> informer : informers) {
      for (GenericKubernetesResource r : informer.getStore().list()) {
        all.add(r);
        inStores.add(r.getMetadata().getName());
      }
    }
    for (ObjectRef ref : refs.values()) {
      if (!inStores.contains(ref.name()) && !deleting.containsKey(ref.name())) {
        GenericKubernetesResource moving = stillHere(ref);
        if (moving != null) {
          all.add(moving);
        }
      }
    }
    Map<String, GenericKubernetesResource> seenNow = new LinkedHashMap<>();
    for (GenericKubernetesResource r : all) {
      // Addressed here: the informers' label selectors let only those through.
      ObjectMeta m = r.getMetadata();
      String key = leaseHolder.keyFor(m);
      competing.add(key);
      if (!leaseHolder.holds(key)) {
        elsewhere.add(m.getName());
        continue;
      }
      if (m.getDeletionTimestamp() != null) {
        if (m.getFinalizers() != null && m.getFinalizers().contains(FINALIZER)) {
          // Left out: the reconciler applies deletionPolicy, then the finalizer comes off.
          deleting.put(m.getName(), r);
        }
        continue;
      }
      if (m.getFinalizers() == null || !m.getFinalizers().contains(FINALIZER)) {
        addFinalizer(r);
      }
      seen.put(m.getName(), new ObjectRef(m.getNamespace(), m.getName()));
      seenNow.put(m.getName(), r);
      docs.add(ResourceDocuments.toDocument(r));
    }
    // Resources gone from the API: stop competing for their Leases (after their deletion ran).
    leaseHolder.keepOnly(competing, deleting.keySet());
    refs.keySet().retainAll(seen.keySet());
    refs.putAll(seen);
    lastSeen.keySet().retainAll(seenNow.keySet());
    lastSeen.putAll(seenNow);
    return new Update(docs, elsewhere, "kubernetes: " + why);
  }

  /**
   * A resource this agent acts on that left both informers' views: relabelled between unlabelled
   * and this agent's name, it leaves one selector before the other informer has it. Gone only when
   * the API server says so; while it cannot be asked, it is kept as last seen.
   */
  private GenericKubernetesResource stillHere(ObjectRef ref) {
    try {
      GenericKubernetesResource r =
          resources().inNamespace(ref.namespace()).withName(ref.name()).get();
      if (r == null) {
        return null;
      }
      return addressedHere(r.getMetadata()) ? r : null;
    } catch (io.fabric8.kubernetes.client.KubernetesClientException e) {
      LOG.warn("{}: cannot tell whether {} is still there, kept: {}", id, ref, e.getMessage());
      return lastSeen.get(ref.name());
    }
  }

  /** Whether a resource is for this agent: labelled with its name, or not labelled. */
  private boolean addressedHere(ObjectMeta m) {
    String label = m.getLabels() == null ? null : m.getLabels().get(VTrackDeployment.AGENT_LABEL);
    return label == null || label.equals(agentName);
  }

  /** Where the document of {@code name} lives, when this source holds it. */
  public ObjectRef ref(String name) {
    return refs.get(name);
  }

  private void addFinalizer(GenericKubernetesResource r) {
    try {
      resources()
          .inNamespace(r.getMetadata().getNamespace())
          .withName(r.getMetadata().getName())
          .edit(
              x -> {
                x.addFinalizer(FINALIZER);
                return x;
              });
    } catch (KubernetesClientException e) {
      LOG.warn("{}: cannot add the finalizer to {}: {}", id, describe(r), e.getMessage());
    }
  }

  /**
   * Called once the reconciler has handled the removal of {@code name}: takes the finalizer off, so
   * the API server deletes the resource. Blocking.
   */
  public void removalHandled(String name) {
    GenericKubernetesResource r = deleting.remove(name);
    if (r == null) {
      return;
    }
    try {
      resources()
          .inNamespace(r.getMetadata().getNamespace())
          .withName(name)
          .edit(
              x -> {
                x.removeFinalizer(FINALIZER);
                return x;
              });
      LOG.info("{}: {} deletion handled; finalizer removed", id, describe(r));
    } catch (KubernetesClientException e) {
      if (e.getCode() != 404) {
        deleting.put(name, r);
        LOG.warn("{}: cannot remove the finalizer of {}: {}", id, describe(r), e.getMessage());
      }
    }
  }

  /** Whether the resource of {@code name} waits for its deletion to be handled. */
  public boolean deleting(String name) {
    return deleting.containsKey(name);
  }

  @Override
  public synchronized void close() {
    informers.forEach(SharedIndexInformer::close);
    informers = List.of();
    leaseHolder.close();
  }
}
