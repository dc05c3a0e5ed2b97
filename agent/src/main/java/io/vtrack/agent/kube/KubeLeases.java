package io.vtrack.agent.kube;

import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.vtrack.agent.model.VTrackDeployment;
import java.util.ArrayList;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Leases that decide which agent acts on a resource addressed to it: at most one, even when two
 * agents claim one name, and another takes over when the holder goes away. fabric8's leader
 * election runs each; a Lease won or lost is a change of what the source says.
 */
final class KubeLeases implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(KubeLeases.class);

  /** The key prefix of the agent-name Lease in {@link #electors} and {@link #held}. */
  static final String AGENT_KEY = "agent:";

  private final KubernetesClient client;
  private final String namespace;
  private final String agentName;
  private final String identity;
  private final KubeSource.Leases timings;
  private final String id;
  private final Consumer<String> changed;

  /** Deployments whose Lease this agent holds, and the elector of each one it competes for. */
  private final Set<String> held = ConcurrentHashMap.newKeySet();

  private final Map<String, CompletableFuture<?>> electors = new ConcurrentHashMap<>();

  /**
   * @param changed told why, on fabric8's threads, when a Lease is won or lost
   */
  KubeLeases(
      KubernetesClient client,
      String namespace,
      String agentName,
      String identity,
      KubeSource.Leases timings,
      String id,
      Consumer<String> changed) {
    this.client = client;
    this.namespace = namespace;
    this.agentName = agentName;
    this.identity = identity;
    this.timings = timings;
    this.id = id;
    this.changed = changed;
  }

  /** Competes for the Lease of {@code key} (once) and says whether this agent holds it now. */
  boolean holds(String key) {
    compete(key);
    return held.contains(key);
  }

  /**
   * Stops competing for the Leases of resources gone from the API, except a deployment's own while
   * its deletion still runs ({@code deleting}: the deployment names).
   */
  void keepOnly(Set<String> competing, Set<String> deleting) {
    for (String key : new ArrayList<>(electors.keySet())) {
      String name = key.substring(key.indexOf('/') + 1);
      if (!competing.contains(key) && (key.startsWith(AGENT_KEY) || !deleting.contains(name))) {
        stopCompeting(key);
      }
    }
  }

  /**
   * The Lease that decides whether this agent acts on a resource. One per agent name for the
   * resources labelled with it ({@code vtrack-agent-<agentName>}): an agent renews one Lease
   * however many deployments it runs. One per deployment ({@code vtrack-<name>} in its namespace)
   * for an unlabelled resource, which any agent could take: at most one does.
   */
  String keyFor(ObjectMeta m) {
    String label = m.getLabels() == null ? null : m.getLabels().get(VTrackDeployment.AGENT_LABEL);
    if (label != null) {
      return AGENT_KEY + leaseNamespace(m) + "/vtrack-agent-" + leaseName(agentName);
    }
    return m.getNamespace() + "/" + m.getName();
  }

  /** The watched namespace, else the agent's own (POD_NAMESPACE, as the DaemonSet sets it). */
  private String leaseNamespace(ObjectMeta m) {
    if (namespace != null) {
      return namespace;
    }
    String own = System.getenv("POD_NAMESPACE");
    return own != null && !own.isBlank() ? own : m.getNamespace();
  }

  /** An agent name as a Lease name: lower case, DNS characters only. */
  static String leaseName(String agentName) {
    String s = agentName.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9.-]", "-");
    return s.length() > 200 ? s.substring(0, 200) : s;
  }

  /**
   * Competes for a Lease (see {@link #keyFor}): at most one agent acts on a deployment, even when
   * two claim the same agentName (old and new pods of a DaemonSet overlapping); the other takes
   * over when the holder goes away and its lease expires.
   */
  private void compete(String key) {
    if (electors.containsKey(key)) {
      return;
    }
    String bare = key.startsWith(AGENT_KEY) ? key.substring(AGENT_KEY.length()) : key;
    String ns = bare.substring(0, bare.indexOf('/'));
    String leaseName =
        key.startsWith(AGENT_KEY)
            ? bare.substring(bare.indexOf('/') + 1)
            : "vtrack-" + bare.substring(bare.indexOf('/') + 1);
    var config =
        new io.fabric8.kubernetes.client.extended.leaderelection.LeaderElectionConfigBuilder()
            .withName(leaseName)
            .withLock(
                new io.fabric8.kubernetes.client.extended.leaderelection.resourcelock.LeaseLock(
                    ns, leaseName, identity))
            .withLeaseDuration(timings.duration())
            .withRenewDeadline(timings.renewDeadline())
            .withRetryPeriod(timings.retry())
            .withReleaseOnCancel(true)
            .withLeaderCallbacks(
                new io.fabric8.kubernetes.client.extended.leaderelection.LeaderCallbacks(
                    () -> {
                      LOG.info("{}: {} holds the lease of {}", id, identity, key);
                      held.add(key);
                      changed.accept("lease of " + key + " acquired");
                    },
                    () -> {
                      if (held.remove(key)) {
                        LOG.warn("{}: {} lost the lease of {}", id, identity, key);
                        changed.accept("lease of " + key + " lost");
                      }
                    },
                    leader -> LOG.info("{}: the lease of {} is held by {}", id, key, leader)))
            .build();
    electors.put(key, client.leaderElector().withConfig(config).build().start());
  }

  private void stopCompeting(String key) {
    var f = electors.remove(key);
    if (f != null) {
      f.cancel(true);
    }
    held.remove(key);
  }

  @Override
  public void close() {
    for (String key : new ArrayList<>(electors.keySet())) {
      stopCompeting(key);
    }
  }
}
