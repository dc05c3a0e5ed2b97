package io.vtrack.agent.proxy;

import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The clients of a server must deliver a whole request head within a timeout of their connection's
 * opening or of the end of their previous answer (nginx's {@code client_header_timeout}); a
 * connection that waits longer is closed. The proxy's idle timeout is 300 s, so that an event
 * stream with sparse events stays open; alone, it let a client trickling its head a header at a
 * time (slowloris), or idling between requests, hold a connection that long. An answer in progress
 * (an event stream) and a connection that asks to switch protocols (a WebSocket) are not bound by
 * the deadline.
 *
 * <p>Confined to the event loop the server's connections are handled on (install it there). One
 * sweep a quarter of the timeout closes the late ones, so a connection waits between the timeout
 * and 1.25 times it; a request costs a map lookup, no timer of its own and no handler on its
 * response (which the request's own handling may need).
 */
final class HeadDeadlines {
  private final long timeoutNanos;
  private final Map<HttpConnection, Client> clients = new HashMap<>();

  /** A client connection: its latest request, and since when it waits for the next head. */
  private static final class Client {
    HttpServerRequest latest;

    /** {@link System#nanoTime()} since it waits for a head; -1 while a request is in progress. */
    long waitingSince = System.nanoTime();
  }

  /** Starts the sweeps, on the calling event loop: a verticle's, whose undeployment stops them. */
  HeadDeadlines(Vertx vertx, long timeoutMillis) {
    this.timeoutNanos = timeoutMillis * 1_000_000;
    vertx.setPeriodic(Math.max(10, timeoutMillis / 4), id -> sweep());
  }

  /**
   * Puts {@code server}'s connections under the deadline; returns the request handler to give the
   * server, which passes each request on to {@code next}.
   */
  Handler<HttpServerRequest> track(HttpServer server, Handler<HttpServerRequest> next) {
    server.connectionHandler(
        conn -> {
          clients.put(conn, new Client());
          conn.closeHandler(v -> clients.remove(conn));
        });
    return req -> {
      if (req.headers().contains("Upgrade")) {
        // A protocol switch (a WebSocket): once switched, no more request heads come on it, so
        // it is never closed for want of one. One the app declines keeps only the idle timeout.
        clients.remove(req.connection());
      } else {
        Client c = clients.get(req.connection());
        if (c != null) {
          c.latest = req;
          c.waitingSince = -1;
        }
      }
      next.handle(req);
    };
  }

  private void sweep() {
    long now = System.nanoTime();
    List<HttpConnection> late = new ArrayList<>();
    for (var e : clients.entrySet()) {
      Client c = e.getValue();
      if (c.waitingSince == -1) {
        // Answered since the last sweep: it waits for its next head from now.
        if (c.latest.response().ended()) {
          c.waitingSince = now;
        }
      } else if (now - c.waitingSince >= timeoutNanos) {
        late.add(e.getKey());
      }
    }
    for (HttpConnection conn : late) {
      clients.remove(conn);
      conn.close();
    }
  }
}
