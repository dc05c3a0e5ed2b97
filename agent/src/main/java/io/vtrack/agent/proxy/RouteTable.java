package io.vtrack.agent.proxy;

import io.micrometer.core.instrument.Counter;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What the proxy serves now, shared by its forwarders (one per event loop): the route of each
 * public address, swapped in one write per switch and read by every request as it arrives; the
 * requests in flight per upstream; and the metrics.
 */
final class RouteTable {
  private volatile Map<String, Routes.Route> byListen = Map.of();
  private volatile long version = -1;
  private final Map<String, AtomicInteger> inflight = new ConcurrentHashMap<>();

  /** Why the proxy does not listen on an address of the table, by address (none: all listen). */
  final Map<String, String> listenErrors = new ConcurrentHashMap<>();

  /** Requests waiting on held routes, over every forwarder. */
  final AtomicInteger held = new AtomicInteger();

  private final Map<String, Counter> counters = new ConcurrentHashMap<>();
  final PrometheusMeterRegistry metrics = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);

  /** Event-bus addresses of the forwarders, each told to bind what the table lists. */
  final List<String> forwarders = new CopyOnWriteArrayList<>();

  void set(Routes routes) {
    Map<String, Routes.Route> m = new LinkedHashMap<>();
    for (Routes.Route r : routes.routes()) {
      m.put(r.listen(), r);
    }
    byListen = Map.copyOf(m);
    version = routes.version();
  }

  Routes.Route route(String listen) {
    return byListen.get(listen);
  }

  Map<String, Routes.Route> routes() {
    return byListen;
  }

  long version() {
    return version;
  }

  AtomicInteger inflight(String upstream) {
    return inflight.computeIfAbsent(upstream, k -> new AtomicInteger());
  }

  Map<String, Integer> inflightCounts() {
    Map<String, Integer> out = new LinkedHashMap<>();
    inflight.forEach((k, v) -> out.put(k, v.get()));
    return out;
  }

  /** The answers counted for a route and status (one counter each, made once). */
  Counter answered(Routes.Route r, int status) {
    return counters.computeIfAbsent(
        r.listen() + "|" + r.upstream() + "|" + r.instance() + "|" + status,
        k ->
            Counter.builder("vtrack_proxy_requests")
                .description(
                    "Requests the switch proxy forwarded, by public address, instance and status")
                .tag("listen", r.listen())
                .tag("deployment", String.valueOf(r.deployment()))
                .tag("upstream", String.valueOf(r.upstream()))
                .tag("instance", String.valueOf(r.instance()))
                .tag("status", Integer.toString(status))
                .register(metrics));
  }
}
