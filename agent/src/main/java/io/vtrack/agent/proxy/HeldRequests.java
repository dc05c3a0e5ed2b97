package io.vtrack.agent.proxy;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerRequest;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * The requests one forwarder holds on held routes (a live instance restarting on restored data),
 * their bodies unread, on its event loop: each goes on when its route is let through, or is
 * answered 503 with {@code Retry-After} after {@link Routes.Route#HOLD_MILLIS}. A client that gives
 * up is forgotten.
 */
final class HeldRequests {
  private final Vertx vertx;
  private final RouteTable table;

  /** Where a request waiting on a held route arrived, and its 503 timer. */
  private record Waiting(String listen, long timer) {}

  /** The requests waiting, by request, in the order they came. */
  private final Map<HttpServerRequest, Waiting> waiting = new LinkedHashMap<>();

  HeldRequests(Vertx vertx, RouteTable table) {
    this.vertx = vertx;
    this.table = table;
  }

  /** Keeps {@code req}, which arrived on {@code listen}, until its route is let through. */
  void hold(HttpServerRequest req, String listen) {
    req.pause();
    long timer =
        vertx.setTimer(
            Routes.Route.HOLD_MILLIS,
            id -> {
              if (forget(req)) {
                ProxyHttp.unavailable(req, table.route(listen));
              }
            });
    waiting.put(req, new Waiting(listen, timer));
    table.held.incrementAndGet();
    req.response().closeHandler(v -> forget(req));
  }

  /**
   * Lets go, in the order they came, the requests whose route is no longer held (or gone): each to
   * {@code dispatch} with the address it arrived on, as if it had just arrived.
   */
  void release(BiConsumer<HttpServerRequest, String> dispatch) {
    for (var e : List.copyOf(waiting.entrySet())) {
      Routes.Route r = table.route(e.getValue().listen());
      if (r == null || !r.held()) {
        forget(e.getKey());
        dispatch.accept(e.getKey(), e.getValue().listen());
      }
    }
  }

  /** Stops holding {@code req}; false when it was not held (any more). */
  private boolean forget(HttpServerRequest req) {
    Waiting w = waiting.remove(req);
    if (w == null) {
      return false;
    }
    vertx.cancelTimer(w.timer());
    table.held.decrementAndGet();
    return true;
  }
}
