package io.vtrack.agent.proxy;

import io.micrometer.core.instrument.Counter;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * One forwarder's counters of proxied answers by route and status ({@code
 * vtrack_proxy_requests_total}), looked up without a key built per request. Confined to the
 * forwarder's event loop.
 */
final class AnswerCounters {
  private final RouteTable table;

  AnswerCounters(RouteTable table) {
    this.table = table;
  }

  /** This event loop's counters by route and status, for the routes of the table's version. */
  private final Map<Routes.Route, Counter[]> byRoute = new IdentityHashMap<>();

  private long version = -1;

  /** The counter of answers of {@code status} on {@code r}, without a key built per request. */
  Counter of(Routes.Route r, int status) {
    if (status < 100 || status > 599) {
      return table.answered(r, status);
    }
    if (version != table.version()) {
      byRoute.clear();
      version = table.version();
    }
    Counter[] byStatus = byRoute.computeIfAbsent(r, k -> new Counter[600]);
    if (byStatus[status] == null) {
      byStatus[status] = table.answered(r, status);
    }
    return byStatus[status];
  }
}
