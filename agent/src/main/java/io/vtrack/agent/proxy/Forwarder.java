package io.vtrack.agent.proxy;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.net.SocketAddress;
import io.vertx.httpproxy.HttpProxy;
import io.vertx.httpproxy.OriginRequestProvider;
import io.vertx.httpproxy.ProxyContext;
import io.vertx.httpproxy.ProxyInterceptor;
import io.vertx.httpproxy.ProxyOptions;
import io.vertx.httpproxy.ProxyResponse;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One event loop's share of the proxy: it binds every public address of the {@link RouteTable} (the
 * kernel spreads connections over the forwarders that share a port) and forwards each request to
 * the upstream the table names when the request arrives.
 */
final class Forwarder extends VerticleBase {
  private static final Logger LOG = LoggerFactory.getLogger(Forwarder.class);

  private final RouteTable table;
  private final Map<String, HttpServer> servers = new HashMap<>();
  private HttpClient client;
  private HttpProxy proxy;

  Forwarder(RouteTable table) {
    this.table = table;
  }

  @Override
  public Future<?> start() {
    client =
        vertx.createHttpClient(
            new HttpClientOptions().setKeepAlive(true).setTcpNoDelay(true),
            new PoolOptions().setHttp1MaxSize(128));
    proxy =
        HttpProxy.reverseProxy(new ProxyOptions().setSupportWebSocket(true), client)
            .origin(OriginRequestProvider.selector(this::origin));
    proxy.addInterceptor(forwarded(), true);
    String address = "vtrack.proxy.sync." + deploymentID() + "." + System.identityHashCode(this);
    vertx.eventBus().<Void>localConsumer(address, msg -> sync().onComplete(ar -> msg.reply(null)));
    table.forwarders.add(address);
    return sync();
  }

  /** Binds the addresses the table lists and closes the others. */
  Future<Void> sync() {
    List<Future<?>> all = new ArrayList<>();
    for (String listen : table.routes().keySet()) {
      if (!servers.containsKey(listen)) {
        all.add(bind(listen));
      }
    }
    for (String listen : List.copyOf(servers.keySet())) {
      if (table.route(listen) == null) {
        servers.remove(listen).close();
      }
    }
    return Future.all(all).mapEmpty();
  }

  private Future<HttpServer> bind(String listen) {
    int colon = listen.lastIndexOf(':');
    HttpServer server =
        vertx.createHttpServer(
            new HttpServerOptions()
                .setIdleTimeout(300)
                .setTcpNoDelay(true)
                .setReuseAddress(true)
                // HTTP/1.1 to the app: a client's h2c upgrade is answered in HTTP/1.1.
                .setHttp2ClearTextEnabled(false));
    server.requestHandler(
        req -> {
          Routes.Route r = table.route(listen);
          if (r == null || r.upstream() == null) {
            unavailable(req, r);
            return;
          }
          if (req.headers().contains("Upgrade")) {
            // WebSocket (and other upgrades): the library's tunnel.
            proxy.handle(req);
          } else {
            forward(req, r);
          }
        });
    servers.put(listen, server);
    return server
        .listen(Integer.parseInt(listen.substring(colon + 1)), listen.substring(0, colon))
        .onFailure(
            err -> {
              servers.remove(listen);
              LOG.error("switch proxy: cannot listen on {}: {}", listen, err.getMessage());
            });
  }

  /** Headers that belong to one hop, never forwarded (RFC 9110 §7.6.1). */
  private static final java.util.Set<String> HOP_BY_HOP =
      java.util.Set.of(
          "connection",
          "keep-alive",
          "proxy-authenticate",
          "proxy-authorization",
          "te",
          "trailer",
          "transfer-encoding",
          "upgrade",
          "host");

  /**
   * Plain HTTP/1.1: the request streams to the upstream the route names now, the answer streams
   * back (chunked bodies and event streams as they come), each on a pooled keep-alive connection.
   */
  private void forward(HttpServerRequest req, Routes.Route r) {
    String up = r.upstream();
    int colon = up.lastIndexOf(':');
    AtomicInteger n = table.inflight(up);
    n.incrementAndGet();
    boolean[] counted = {true};
    Runnable done =
        () -> {
          if (counted[0]) {
            counted[0] = false;
            n.decrementAndGet();
          }
        };
    var resp = req.response();
    resp.endHandler(v -> done.run());
    resp.closeHandler(v -> done.run());
    req.pause();
    client
        .request(
            new io.vertx.core.http.RequestOptions()
                .setMethod(req.method())
                .setHost(up.substring(0, colon))
                .setPort(Integer.parseInt(up.substring(colon + 1)))
                .setURI(req.uri()))
        .onFailure(err -> badGateway(req, r, err))
        .onSuccess(
            creq -> {
              var h = creq.headers();
              req.headers()
                  .forEach(
                      e -> {
                        if (!HOP_BY_HOP.contains(e.getKey().toLowerCase(java.util.Locale.ROOT))) {
                          h.add(e.getKey(), e.getValue());
                        }
                      });
              String client =
                  req.remoteAddress() == null ? null : req.remoteAddress().hostAddress();
              String prior = req.getHeader("X-Forwarded-For");
              if (client != null) {
                h.set("X-Forwarded-For", prior == null ? client : prior + ", " + client);
              }
              h.set("X-Forwarded-Proto", req.isSSL() ? "https" : "http");
              if (req.authority() != null) {
                h.set("X-Forwarded-Host", req.authority().toString());
                h.set("Host", req.authority().toString());
              }
              if (req.getHeader("Content-Length") == null
                  && "chunked".equalsIgnoreCase(req.getHeader("Transfer-Encoding"))) {
                creq.setChunked(true);
              }
              creq.send(req)
                  .onFailure(err -> badGateway(req, r, err))
                  .onSuccess(
                      cresp -> {
                        resp.setStatusCode(cresp.statusCode());
                        resp.setStatusMessage(cresp.statusMessage());
                        cresp
                            .headers()
                            .forEach(
                                e -> {
                                  if (!HOP_BY_HOP.contains(
                                      e.getKey().toLowerCase(java.util.Locale.ROOT))) {
                                    resp.headers().add(e.getKey(), e.getValue());
                                  }
                                });
                        if (cresp.getHeader("Content-Length") == null) {
                          resp.setChunked(true);
                        }
                        table.answered(r, cresp.statusCode()).increment();
                        cresp.pipeTo(resp);
                      });
            });
  }

  private void badGateway(HttpServerRequest req, Routes.Route r, Throwable err) {
    table.answered(r, 502).increment();
    if (!req.response().headWritten()) {
      req.response()
          .setStatusCode(502)
          .putHeader("Content-Type", "text/plain")
          .end("the live instance of " + r.deployment() + "/" + r.service() + " did not answer\n");
    } else {
      req.response().reset();
    }
  }

  private static void unavailable(HttpServerRequest req, Routes.Route r) {
    req.response()
        .setStatusCode(503)
        .putHeader("Retry-After", "1")
        .putHeader("Content-Type", "text/plain")
        .end(
            "no live instance of "
                + (r == null ? "this address" : r.deployment() + "/" + r.service())
                + " right now\n");
  }

  /** The upstream of a request: the route live when it arrived, counted until it ends. */
  private Future<SocketAddress> origin(ProxyContext ctx) {
    HttpServerRequest in = ctx.request().proxiedRequest();
    Routes.Route r = table.route(in.localAddress().host() + ":" + in.localAddress().port());
    if (r == null) {
      r = routeByPort(in.localAddress().port());
    }
    if (r == null || r.upstream() == null) {
      return Future.failedFuture("no live instance");
    }
    String up = r.upstream();
    ctx.set("route", r);
    AtomicInteger n = table.inflight(up);
    n.incrementAndGet();
    boolean[] counted = {true};
    Runnable once =
        () -> {
          if (counted[0]) {
            counted[0] = false;
            n.decrementAndGet();
          }
        };
    in.response().endHandler(v -> once.run());
    in.response().closeHandler(v -> once.run());
    int colon = up.lastIndexOf(':');
    return Future.succeededFuture(
        SocketAddress.inetSocketAddress(
            Integer.parseInt(up.substring(colon + 1)), up.substring(0, colon)));
  }

  private Routes.Route routeByPort(int port) {
    for (Routes.Route r : table.routes().values()) {
      if (r.listen().endsWith(":" + port)) {
        return r;
      }
    }
    return null;
  }

  /** X-Forwarded-For, -Proto and -Host, and the count of answers by status and upstream. */
  private ProxyInterceptor forwarded() {
    return new ProxyInterceptor() {
      @Override
      public Future<ProxyResponse> handleProxyRequest(ProxyContext ctx) {
        HttpServerRequest in = ctx.request().proxiedRequest();
        var h = ctx.request().headers();
        String client = in.remoteAddress() == null ? null : in.remoteAddress().hostAddress();
        String prior = h.get("X-Forwarded-For");
        if (client != null) {
          h.set("X-Forwarded-For", prior == null ? client : prior + ", " + client);
        }
        h.set("X-Forwarded-Proto", in.isSSL() ? "https" : "http");
        if (in.authority() != null) {
          h.set("X-Forwarded-Host", in.authority().toString());
        }
        return ctx.sendRequest();
      }

      @Override
      public Future<Void> handleProxyResponse(ProxyContext ctx) {
        Routes.Route r = ctx.get("route", Routes.Route.class);
        if (r != null) {
          table.answered(r, ctx.response().getStatusCode()).increment();
        }
        return ctx.sendResponse();
      }
    };
  }
}
