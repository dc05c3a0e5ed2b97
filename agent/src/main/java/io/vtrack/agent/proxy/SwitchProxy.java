package io.vtrack.agent.proxy;

import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
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
  private final RouteTable table = new RouteTable();
  private final long headTimeoutMillis;
  private HttpServer admin;
  private final Instant startedAt = Instant.now();

  /**
   * @param adminListen host:port of the admin API (port 0: any free port, written to proxy.json)
   */
  public SwitchProxy(Path stateDir, String token, String adminListen) {
    this(stateDir, token, adminListen, Forwarder.HEAD_TIMEOUT_MILLIS);
  }

  /**
   * @param headTimeoutMillis how long a client connection may take to send a whole request head,
   *     counted from its opening or from the end of its previous answer; then it is closed
   */
  SwitchProxy(Path stateDir, String token, String adminListen, long headTimeoutMillis) {
    this.headTimeoutMillis = headTimeoutMillis;
    this.stateDir = stateDir;
    this.token = token;
    int colon = adminListen.lastIndexOf(':');
    this.adminHost = adminListen.substring(0, colon);
    this.adminPort = Integer.parseInt(adminListen.substring(colon + 1));
  }

  @Override
  public Future<?> start() {
    // One forwarder per core: each binds every public address on its own event loop.
    int forwarders = Math.max(1, Runtime.getRuntime().availableProcessors());
    return vertx
        .executeBlocking(SwitchProxy.this::routesOnStart, false)
        .compose(
            routes -> {
              table.set(routes);
              return vertx.deployVerticle(
                  () -> new Forwarder(table, headTimeoutMillis),
                  new DeploymentOptions().setInstances(forwarders));
            })
        .compose(id -> startAdmin())
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
                    "switch proxy: {} route(s) on {} forwarders ({}), admin on {}:{}",
                    table.routes().size(),
                    forwarders,
                    vertx.isNativeTransportEnabled() ? "epoll" : "Java NIO",
                    adminHost,
                    admin.actualPort()));
  }

  // ---------------------------------------------------------------- routes

  /**
   * The routes to start with: a routes.json that cannot be read (edited by hand, say) is logged and
   * none are served, so the proxy still starts and the agent can write the routes again.
   */
  private Routes routesOnStart() {
    try {
      return Routes.read(Routes.file(stateDir));
    } catch (IOException e) {
      LOG.error("{}; serving no route until the agent writes them again", e.getMessage());
      return new Routes(0, List.of());
    }
  }

  /**
   * Reads routes.json into the table (one write: every request from now on reads the new route) and
   * has every forwarder bind what is new; completes with the version served, or fails with {@link
   * ListenFailed} when an address of the routes cannot be listened on (taken by another process,
   * say): the routes are served where they can be, and that address is tried again every second.
   */
  Future<Long> reload() {
    return vertx
        .executeBlocking(() -> Routes.read(Routes.file(stateDir)), false)
        .compose(
            routes -> {
              table.set(routes);
              List<Future<io.vertx.core.eventbus.Message<String>>> synced = new ArrayList<>();
              for (String address : table.forwarders) {
                synced.add(vertx.eventBus().request(address, null));
              }
              return Future.all(synced)
                  .compose(
                      x -> {
                        Set<String> failed = new TreeSet<>();
                        for (var m : synced) {
                          if (m.result().body() != null) {
                            failed.addAll(List.of(m.result().body().split("\n")));
                          }
                        }
                        return failed.isEmpty()
                            ? Future.succeededFuture(table.version())
                            : Future.failedFuture(new ListenFailed(String.join("; ", failed)));
                      });
            });
  }

  /** An address of the routes the proxy cannot listen on. */
  static final class ListenFailed extends Exception {
    ListenFailed(String message) {
      super(message, null, false, false);
    }
  }

  // ---------------------------------------------------------------- admin

  private Future<Void> startAdmin() {
    Promise<Void> p = Promise.promise();
    vertx
        .createHttpServer(
            new io.vertx.core.http.HttpServerOptions().setHttp2ClearTextEnabled(false))
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
                          err instanceof ListenFailed
                              ? Map.of("error", "ListenFailed", "message", err.getMessage())
                              : Map.of("error", "ReloadFailed", "message", String.valueOf(err))));
      case "/status" -> json(req, 200, status());
      case "/metrics" ->
          req.response()
              .putHeader("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
              .end(table.metrics.scrape());
      default -> req.response().setStatusCode(404).end("{\"error\":\"NotFound\"}");
    }
  }

  private Map<String, Object> status() {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("version", table.version());
    out.put("pid", ProcessHandle.current().pid());
    out.put("startedAt", startedAt.toString());
    List<Map<String, Object>> routes = new ArrayList<>();
    for (Routes.Route route : table.routes().values()) {
      Map<String, Object> r = new LinkedHashMap<>();
      r.put("listen", route.listen());
      r.put("deployment", route.deployment());
      r.put("service", route.service());
      r.put("upstream", route.upstream());
      r.put("instance", route.instance());
      r.put("drainMillis", route.drainMillis());
      r.put("held", route.held());
      String error = table.listenErrors.get(route.listen());
      r.put("listening", error == null);
      if (error != null) {
        r.put("error", error);
      }
      routes.add(r);
    }
    out.put("routes", routes);
    out.put("inflight", table.inflightCounts());
    out.put("held", table.held.get());
    return out;
  }

  private static void json(HttpServerRequest req, int status, Object body) {
    req.response()
        .setStatusCode(status)
        .putHeader("Content-Type", "application/json")
        .end(JSON.writeValueAsString(body));
  }

  /** Reads the token the agent and its proxy share. */
  public static String readToken(Path tokenFile) throws IOException {
    String token;
    try {
      token = Files.readString(tokenFile).trim();
    } catch (IOException e) {
      throw new IOException(
          "cannot read the agent's API token from "
              + tokenFile
              + " (--token-file): "
              + io.vtrack.agent.IoErrors.describe(e),
          e);
    }
    if (token.isEmpty()) {
      throw new IOException("the agent's API token file " + tokenFile + " is empty (--token-file)");
    }
    return token;
  }
}
