package io.vtrack.agent.reconcile;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vtrack.agent.model.NotifySpec;
import io.vtrack.agent.proxy.ProxySupervisor;
import io.vtrack.agent.release.DeploymentPaths;
import io.vtrack.agent.source.DesiredStateRegistry;
import io.vtrack.agent.store.Instance;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A deployment's status read afresh and published: the store's snapshot, the warnings about files a
 * shared path shadows, and the switch proxy's word on itself and on the deployment's public
 * addresses. The reads block (SQLite, git, a loopback HTTP call) and run on a worker.
 */
final class StatusRefresh {
  /**
   * What a status is made of; {@code warnings} and {@code proxy} null when not read. {@code ticket}
   * orders the reads of a deployment by when they began ({@link #ticket}).
   */
  record Fresh(
      Snapshot snap, List<String> warnings, DeploymentStatus.ProxyStatus proxy, long ticket) {}

  private final Vertx vertx;
  private final Path stateDir;
  private final StateReader reader;
  private final ShadowWarnings warnings;
  private final ProxySupervisor proxy;
  private final StatusPublisher publisher;

  StatusRefresh(
      Vertx vertx,
      Path stateDir,
      StateReader reader,
      ShadowWarnings warnings,
      ProxySupervisor proxy,
      StatusPublisher publisher) {
    this.vertx = vertx;
    this.stateDir = stateDir;
    this.reader = reader;
    this.warnings = warnings;
    this.proxy = proxy;
    this.publisher = publisher;
  }

  /** Reads the state afresh on a worker and publishes it. */
  Future<Void> readAndPublish(String name, DesiredStateRegistry.Entry entry, DeploymentState s) {
    StateReader.LoopView view = StateReader.LoopView.of(s);
    long ticket = ticket(s);
    return vertx
        .executeBlocking(() -> of(name, reader.read(entry, view), ticket), false)
        .compose(f -> publish(name, f, s, entry));
  }

  /**
   * Taken on the agent's context just before a read begins. Reads run on workers, a command's
   * beside a rollout's, and may end in any order; the one that began later saw as much or more.
   */
  static long ticket(DeploymentState s) {
    return ++s.readsBegun;
  }

  /** What a status needs besides the snapshot; blocking. */
  Fresh of(String name, Snapshot snap, long ticket) throws Exception {
    return new Fresh(
        snap,
        warnings.of(snap, DeploymentPaths.of(stateDir, name)),
        proxyStatus(name, snap),
        ticket);
  }

  /**
   * Publishes {@code f}, unless a read that began after it has been published already: a status
   * never goes back to what was true before.
   */
  Future<Void> publish(String name, Fresh f, DeploymentState s, DesiredStateRegistry.Entry entry) {
    if (!newest(s, f.ticket())) {
      return Future.succeededFuture();
    }
    return publisher.publish(name, f.snap(), s, f.warnings(), f.proxy(), notifications(entry));
  }

  /** Whether the read {@code ticket} may be published; if so, no read begun before it may. */
  static boolean newest(DeploymentState s, long ticket) {
    if (ticket < s.newestPublishedRead) {
      return false;
    }
    s.newestPublishedRead = ticket;
    return true;
  }

  static List<NotifySpec> notifications(DesiredStateRegistry.Entry entry) {
    return entry != null && entry.document().valid()
        ? entry.document().document().spec().notifications()
        : List.of();
  }

  /**
   * Blue-green: what the switch proxy says of itself and of this deployment's public addresses
   * (blocking: a loopback HTTP call). An address it cannot listen on makes it unhealthy, by name.
   */
  private DeploymentStatus.ProxyStatus proxyStatus(String name, Snapshot snap) {
    if (snap.instances().isEmpty()) {
      return null;
    }
    Map<String, Object> st = proxy.reportedStatus();
    boolean live = snap.instances().stream().anyMatch(i -> i.role() == Instance.Role.Live);
    if (st == null
        && !live
        && !proxy.external()
        && proxy.startFailure() == null
        && proxy.routes().isEmpty()) {
      // The first rollout, before its switch: nothing to serve yet, and not a failure.
      return new DeploymentStatus.ProxyStatus(
          null, null, null, "not started yet: it starts at the first switch");
    }
    if (st == null) {
      return new DeploymentStatus.ProxyStatus(
          false,
          null,
          null,
          proxy.external()
              ? "the switch proxy (a sidecar: proxy.external) does not answer"
              : proxy.startFailure() != null
                  ? proxy.startFailure()
                  : "the switch proxy does not answer; the agent starts it again if it has"
                      + " exited, or replaces it after "
                      + ProxySupervisor.WEDGED_AFTER.toSeconds()
                      + "s of silence");
    }
    List<String> notListening = new ArrayList<>();
    if (st.get("routes") instanceof List<?> routes) {
      for (Object o : routes) {
        if (o instanceof Map<?, ?> r
            && name.equals(r.get("deployment"))
            && Boolean.FALSE.equals(r.get("listening"))) {
          notListening.add(String.valueOf(r.get("error")));
        }
      }
    }
    return new DeploymentStatus.ProxyStatus(
        notListening.isEmpty(),
        ((Number) st.get("pid")).longValue(),
        ((Number) st.get("version")).longValue(),
        notListening.isEmpty()
            ? null
            : String.join("; ", notListening) + " (the proxy tries again every second)");
  }
}
