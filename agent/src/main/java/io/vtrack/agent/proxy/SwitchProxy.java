package io.vtrack.agent.proxy;

import io.micrometer.core.instrument.Counter;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Promise;
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
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.json.JsonMapper;

/**
 * The switch proxy (DESIGN.md §2, blue-green): owns every public {@code expose.listen} address and
 * forwards HTTP/1.1 — keep-alive, chunked bodies, WebSocket and server-sent events — to the live
 * instance, adding {@code X-Forwarded-For}, {@code -Proto} and {@code -Host}. Each request picks
 * the upstream live when it arrives: after a switch every new request goes to the new instance,
 * requests in flight finish on the old one. With no live instance it answers 503 with {@code
 * Retry-After}. Routes come from {@link Routes}; an admin listener on loopback (the agent's token)
 * reloads them and acknowledges the version it serves.
 */
public final class SwitchProxy extends VerticleBase {
  private static final Logger LOG = LoggerFactory.getLogger(SwitchProxy.class);
  private static final JsonMapper JSON = JsonMapper.builder().build();

  private final Path stateDir;
  private final String token;
  private final String adminHost;
  private final int adminPort;
  private final PrometheusMeterRegistry metrics =
      new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final Map<String, Listener> listeners = new HashMap<>();
  private final Map<String, AtomicInteger> inflight = new ConcurrentHashMap<>();
  private HttpClient client;
  private HttpServer admin;
  private volatile long version = -1;
  private final Instant startedAt = Instant.now();

  /** One public address: its server and the instance answering it now. */
  private final class Listener {
    final String listen;
    HttpServer server;
    volatile Routes.Route route;

    Listener(String listen) {
      this.listen = listen;
    }
  }

  /**
   * @param adminListen host:port of the admin API (port 0: any free port, written to proxy.json)
   */
  public SwitchProxy(Path stateDir, String token, String adminListen) {
    this.stateDir = stateDir;
    this.token = token;
    int colon = adminListen.lastIndexOf(':');
    this.adminHost = adminListen.substring(0, colon);
    this.adminPort = Integer.parseInt(adminListen.substring(colon + 1));
  }

  @Override
  public Future<?> start() {
    client =
        vertx.createHttpClient(
            new HttpClientOptions().setKeepAlive(true), new PoolOptions().setHttp1MaxSize(256));
    return startAdmin()
        .compose(v -> reload())
        .compose(
            v ->
                vertx.executeBlocking(
                    () -> {
                      ProxyState.write(
                          stateDir, ProcessHandle.current().pid(), admin.actualPort(), adminHost);
                      return null;
                    },
                    false))
        .onSuccess(
            v ->
                LOG.info(
                    "switch proxy: {} route(s), admin on {}:{}",
                    listeners.size(),
                    adminHost,
                    admin.actualPort()));
  }

  // ---------------------------------------------------------------- routes

  /** Reads routes.json and makes the listeners match it; completes with the version served. */
  Future<Long> reload() {
    return vertx
        .executeBlocking(() -> Routes.read(Routes.file(stateDir)), false)
        .compose(this::apply);
  }

  private Future<Long> apply(Routes routes) {
    Map<String, Routes.Route> wanted = new LinkedHashMap<>();
    for (Routes.Route r : routes.routes()) {
      wanted.put(r.listen(), r);
    }
    List<Future<?>> binds = new java.util.ArrayList<>();
    for (Routes.Route r : wanted.values()) {
      Listener l = listeners.get(r.listen());
      if (l == null) {
        Listener fresh = new Listener(r.listen());
        fresh.route = r;
        listeners.put(r.listen(), fresh);
        binds.add(bind(fresh));
      } else {
        // The switch: one volatile write; every request from now on reads the new route.
        l.route = r;
      }
    }
    for (String listen : List.copyOf(listeners.keySet())) {
      if (!wanted.containsKey(listen)) {
        Listener gone = listeners.remove(listen);
        if (gone.server != null) {
          gone.server.close();
        }
      }
    }
    return Future.all(binds)
        .map(
            x -> {
              version = routes.version();
              return version;
            });
  }

  private Future<Void> bind(Listener l) {
    int colon = l.listen.lastIndexOf(':');
    String host = l.listen.substring(0, colon);
    int port = Integer.parseInt(l.listen.substring(colon + 1));
    HttpProxy proxy =
        HttpProxy.reverseProxy(new ProxyOptions().setSupportWebSocket(true), client)
            .origin(OriginRequestProvider.selector(ctx -> origin(l, ctx)));
    proxy.addInterceptor(forwarded(), true);
    HttpServer server =
        vertx.createHttpServer(
            new HttpServerOptions().setIdleTimeout(300).setTcpNoDelay(true).setReuseAddress(true));
    server.requestHandler(
        req -> {
          Routes.Route r = l.route;
          if (r == null || r.upstream() == null) {
            unavailable(req, r);
            return;
          }
          proxy.handle(req);
        });
    return server
        .listen(port, host)
        .onSuccess(s -> l.server = s)
        .onFailure(err -> LOG.error("switch proxy: cannot listen on {}: {}", l.listen, err))
        .mapEmpty();
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
  private Future<SocketAddress> origin(Listener l, ProxyContext ctx) {
    Routes.Route r = l.route;
    if (r == null || r.upstream() == null) {
      return Future.failedFuture("no live instance");
    }
    String up = r.upstream();
    ctx.set("route", r);
    AtomicInteger n = inflight.computeIfAbsent(up, k -> new AtomicInteger());
    n.incrementAndGet();
    Runnable done = n::decrementAndGet;
    var resp = ctx.request().proxiedRequest().response();
    boolean[] counted = {true};
    Runnable once =
        () -> {
          if (counted[0]) {
            counted[0] = false;
            done.run();
          }
        };
    resp.endHandler(v -> once.run());
    resp.closeHandler(v -> once.run());
    int colon = up.lastIndexOf(':');
    return Future.succeededFuture(
        SocketAddress.inetSocketAddress(
            Integer.parseInt(up.substring(colon + 1)), up.substring(0, colon)));
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
          counter(r, ctx.response().getStatusCode()).increment();
        }
        return ctx.sendResponse();
      }
    };
  }

  private Counter counter(Routes.Route r, int status) {
    return Counter.builder("vtrack_proxy_requests")
        .description("Requests the switch proxy forwarded, by public address, instance and status")
        .tag("listen", r.listen())
        .tag("deployment", String.valueOf(r.deployment()))
        .tag("upstream", r.upstream())
        .tag("instance", String.valueOf(r.instance()))
        .tag("status", Integer.toString(status))
        .register(metrics);
  }

  // ---------------------------------------------------------------- admin

  private Future<Void> startAdmin() {
    Promise<Void> p = Promise.promise();
    vertx
        .createHttpServer()
        .requestHandler(this::admin)
        .listen(adminPort, adminHost)
        .onSuccess(
            s -> {
              admin = s;
              p.complete();
            })
        .onFailure(p::fail);
    return p.future();
  }

  private void admin(HttpServerRequest req) {
    String path = req.path();
    if (path.equals("/healthz")) {
      req.response().end("ok\n");
      return;
    }
    String auth = req.getHeader("Authorization");
    if (auth == null
        || !MessageDigest.isEqual(
            auth.getBytes(StandardCharsets.UTF_8),
            ("Bearer " + token).getBytes(StandardCharsets.UTF_8))) {
      req.response().setStatusCode(401).end("{\"error\":\"Unauthorized\"}");
      return;
    }
    switch (path) {
      case "/reload" ->
          reload()
              .onSuccess(v -> json(req, 200, status()))
              .onFailure(
                  err ->
                      json(
                          req,
                          500,
                          Map.of("error", "ReloadFailed", "message", String.valueOf(err))));
      case "/status" -> json(req, 200, status());
      case "/metrics" ->
          req.response()
              .putHeader("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
              .end(metrics.scrape());
      default -> req.response().setStatusCode(404).end("{\"error\":\"NotFound\"}");
    }
  }

  private Map<String, Object> status() {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("version", version);
    out.put("pid", ProcessHandle.current().pid());
    out.put("startedAt", startedAt.toString());
    List<Map<String, Object>> routes = new java.util.ArrayList<>();
    for (Listener l : listeners.values()) {
      Map<String, Object> r = new LinkedHashMap<>();
      Routes.Route route = l.route;
      r.put("listen", l.listen);
      r.put("listening", l.server != null);
      if (route != null) {
        r.put("deployment", route.deployment());
        r.put("service", route.service());
        r.put("upstream", route.upstream());
        r.put("instance", route.instance());
      }
      routes.add(r);
    }
    out.put("routes", routes);
    Map<String, Integer> counts = new LinkedHashMap<>();
    inflight.forEach((k, v) -> counts.put(k, v.get()));
    out.put("inflight", counts);
    return out;
  }

  private static void json(HttpServerRequest req, int status, Object body) {
    req.response()
        .setStatusCode(status)
        .putHeader("Content-Type", "application/json")
        .end(JSON.writeValueAsString(body));
  }

  /** Reads the token the agent and its proxy share. */
  public static String readToken(Path tokenFile) throws java.io.IOException {
    return Files.readString(tokenFile).trim();
  }
}
