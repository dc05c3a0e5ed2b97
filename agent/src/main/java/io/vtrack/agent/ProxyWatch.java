package io.vtrack.agent;

import io.vertx.core.Vertx;
import io.vtrack.agent.proxy.ProxySupervisor;
import io.vtrack.agent.proxy.Routes;
import io.vtrack.agent.reconcile.Reconciler;
import io.vtrack.agent.source.DesiredStateRegistry;
import java.io.IOException;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The switch proxy of blue-green deployments runs in its own process; one that died (or never came
 * back after a reboot) is started again at once, into the routes it served, and a deployment whose
 * public addresses changed condition publishes its status afresh. Confined to the agent's context;
 * the look itself (a loopback call) runs on a worker.
 */
final class ProxyWatch {
  private static final Logger LOG = LoggerFactory.getLogger(ProxyWatch.class);

  private final Vertx vertx;
  private final ProxySupervisor proxy;
  private final DesiredStateRegistry registry;
  private final Reconciler reconciler;
  private boolean proxyCheck;

  ProxyWatch(
      Vertx vertx, ProxySupervisor proxy, DesiredStateRegistry registry, Reconciler reconciler) {
    this.vertx = vertx;
    this.proxy = proxy;
    this.registry = registry;
    this.reconciler = reconciler;
  }

  /** Looks at the proxy once (at most one look at a time); on the agent's context. */
  void check() {
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
                } catch (IOException e) {
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
}
