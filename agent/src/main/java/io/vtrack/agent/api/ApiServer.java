package io.vtrack.agent.api;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import io.vtrack.agent.Addresses;
import io.vtrack.agent.metrics.AgentMetrics;
import io.vtrack.agent.reconcile.Reconciler;
import io.vtrack.agent.source.DesiredStateRegistry;
import io.vtrack.agent.source.WebhookSignature;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import tools.jackson.databind.json.JsonMapper;

/**
 * The HTTP API of DESIGN.md §4 on Vert.x Web. Routing and authentication only: answers come from
 * {@link DeploymentViews} (off the event loop) and actions go to the {@link Reconciler}.
 */
public final class ApiServer {
  private static final JsonMapper JSON = JsonMapper.builder().build();

  /** What the webhook needs: the configured secrets and a way to refresh every source now. */
  public interface Webhooks {
    /** Secrets of the git sources that have one; empty when none is configured. */
    Future<List<String>> secrets();

    void refreshAll(String deliveryId);
  }

  private final Vertx vertx;
  private final DesiredStateRegistry registry;
  private final Reconciler reconciler;
  private final DeploymentViews views;
  private final AgentMetrics metrics;
  private final String token;
  private final Webhooks webhooks;
  private final Supplier<String> notReady;
  private final Supplier<String> agentName;
  private final AllowedHosts hosts;
  private HttpServer server;

  public ApiServer(
      Vertx vertx,
      DesiredStateRegistry registry,
      Reconciler reconciler,
      DeploymentViews views,
      AgentMetrics metrics,
      String token,
      Webhooks webhooks,
      Supplier<String> notReady,
      Supplier<String> agentName,
      List<String> allowedHosts) {
    this.vertx = vertx;
    this.registry = registry;
    this.reconciler = reconciler;
    this.views = views;
    this.metrics = metrics;
    this.token = token;
    this.webhooks = webhooks;
    this.notReady = notReady;
    this.agentName = agentName;
    List<String> names = new ArrayList<>(allowedHosts);
    names.add(agentName.get());
    try {
      names.add(java.net.InetAddress.getLocalHost().getHostName());
    } catch (Exception e) {
      // No host name: IP literals and localhost still work.
    }
    this.hosts = new AllowedHosts(names);
  }

  public Future<HttpServer> listen(String host, int port) {
    Router router = Router.router(vertx);
    // Before anything else: a Host this agent does not answer to (DNS rebinding) is refused.
    router.route().order(-1).handler(this::knownHost);
    // A list made before a command answered is not served after it: read your own writes.
    router
        .route()
        .handler(
            rc -> {
              if (rc.request().method() != HttpMethod.GET) {
                rc.addEndHandler(v -> forgetLists());
              }
              rc.next();
            });
    router.get("/healthz").handler(rc -> json(rc, 200, Map.of("status", "ok")));
    router
        .get("/readyz")
        .handler(
            rc -> {
              String why = notReady.get();
              json(
                  rc,
                  why == null ? 200 : 503,
                  why == null
                      ? Map.of("status", "ready")
                      : Map.of("status", "notReady", "reason", why));
            });
    router
        .get("/metrics")
        .handler(
            rc ->
                rc.response()
                    .putHeader("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                    .end(metrics.scrape()));
    StatusPage.mount(router);
    router.get("/api/v1/events").handler(this::events);
    // The plan and the diff show commands and spec values: token holders only.
    router.get("/api/v1/deployments/:name/plan").handler(this::authenticated).handler(this::plan);
    router.get("/api/v1/deployments/:name/diff").handler(this::authenticated).handler(this::diff);
    router
        .post("/api/v1/deployments/:name/suspend")
        .handler(this::authenticated)
        .handler(rc -> suspend(rc, true));
    router
        .post("/api/v1/deployments/:name/resume")
        .handler(this::authenticated)
        .handler(rc -> suspend(rc, false));
    router.get("/api/v1/deployments").handler(this::list);
    router.get("/api/v1/deployments/:name").handler(this::get);
    router.get("/api/v1/deployments/:name/history").handler(this::history);
    router.get("/api/v1/deployments/:name/history/:id").handler(this::rollout);
    router
        .post("/api/v1/deployments/:name/reconcile")
        .handler(this::authenticated)
        .handler(this::reconcile);
    router
        .post("/api/v1/deployments/:name/rollback")
        .handler(BodyHandler.create(false).setBodyLimit(64 * 1024))
        .handler(this::authenticated)
        .handler(this::rollback);
    router
        .post("/api/v1/hooks/git")
        .handler(BodyHandler.create(false).setBodyLimit(1 << 20))
        .handler(this::webhook);
    router
        .route()
        .last()
        .handler(
            rc -> {
              String allow = Endpoints.allowed(rc.request().path());
              if (allow != null) {
                rc.response().putHeader("Allow", allow);
                error(
                    rc,
                    new ApiError(
                        405,
                        "MethodNotAllowed",
                        rc.request().method()
                            + " is not allowed on "
                            + rc.request().path()
                            + " (allowed: "
                            + allow
                            + ")"));
                return;
              }
              error(
                  rc,
                  new ApiError(
                      404,
                      "NotFound",
                      "no such endpoint: " + rc.request().method() + " " + rc.request().path()));
            });
    router
        .route()
        .failureHandler(
            rc -> {
              Throwable f = rc.failure();
              if (f instanceof ApiError e) {
                error(rc, e);
              } else if (rc.statusCode() == 413) {
                error(rc, new ApiError(413, "PayloadTooLarge", "request body too large"));
              } else {
                error(
                    rc,
                    new ApiError(
                        rc.statusCode() > 0 ? rc.statusCode() : 500,
                        "InternalError",
                        f == null ? "internal error" : String.valueOf(f.getMessage())));
              }
            });
    // A request that never finishes is dropped after a minute of silence (the event stream writes
    // a comment every 15 s, so it stays open). HTTP/1.1 only: a client's h2c upgrade is ignored.
    return vertx
        .createHttpServer(
            new io.vertx.core.http.HttpServerOptions()
                .setHttp2ClearTextEnabled(false)
                .setIdleTimeout(60)
                .setIdleTimeoutUnit(java.util.concurrent.TimeUnit.SECONDS)
                .setMaxHeaderSize(16 * 1024))
        .requestHandler(router)
        .listen(port, host)
        .onSuccess(s -> server = s);
  }

  public int port() {
    return server.actualPort();
  }

  public Future<Void> close() {
    return server == null ? Future.succeededFuture() : server.close();
  }

  /** Whether the request carries the agent's token (compared in constant time). */
  private boolean hasToken(RoutingContext rc) {
    String h = rc.request().getHeader("Authorization");
    String expected = "Bearer " + token;
    return h != null
        && MessageDigest.isEqual(
            h.trim().getBytes(StandardCharsets.UTF_8), expected.getBytes(StandardCharsets.UTF_8));
  }

  private void knownHost(RoutingContext rc) {
    String host = rc.request().authority() == null ? null : rc.request().authority().host();
    if (host != null && !hosts.allows(host)) {
      error(
          rc,
          new ApiError(
              403,
              "ForbiddenHost",
              "Host '"
                  + host
                  + "' is not one this agent answers to (an IP address, localhost, the agent's"
                  + " name, or allowedHosts in agent.yaml)"));
      return;
    }
    rc.next();
  }

  private void authenticated(RoutingContext rc) {
    if (!hasToken(rc)) {
      rc.response().putHeader("WWW-Authenticate", "Bearer");
      error(
          rc,
          new ApiError(
              401,
              "Unauthorized",
              "this call needs 'Authorization: Bearer <token>' (the agent's api-token)"));
      return;
    }
    rc.next();
  }

  private String caller(RoutingContext rc) {
    String ua = rc.request().getHeader("User-Agent");
    return "token@" + rc.request().remoteAddress().host() + (ua == null ? "" : " (" + ua + ")");
  }

  private DesiredStateRegistry.Entry entry(RoutingContext rc) {
    return entry(rc, false);
  }

  /**
   * The deployment a request names; with {@code orLeaving}, also one whose document is gone while
   * its deletion policy runs (what reads show until it has run).
   */
  private DesiredStateRegistry.Entry entry(RoutingContext rc, boolean orLeaving) {
    String name = rc.pathParam("name");
    DesiredStateRegistry.Entry e = registry.get(name);
    if (e == null && orLeaving) {
      e = registry.leaving(name);
    }
    if (e == null) {
      throw new ApiError(
          404, "NotFound", "no deployment named '" + name + "' on agent " + agentName.get());
    }
    return e;
  }

  /**
   * How long a list, as served, is served again: with hundreds of deployments a list costs
   * milliseconds to make, and what it shows changes once a check round anyway.
   */
  private static final long LIST_TTL_NANOS = 200_000_000L;

  /** The last list made without and with specs, and when (touched on the API's context only). */
  @SuppressWarnings("unchecked")
  private final Future<Buffer>[] lists = new Future[2];

  private final long[] listMadeAt = new long[2];

  private void forgetLists() {
    lists[0] = null;
    lists[1] = null;
  }

  private void list(RoutingContext rc) {
    boolean withSpec = hasToken(rc);
    int view = withSpec ? 1 : 0;
    long now = System.nanoTime();
    Future<Buffer> made = lists[view];
    if (made == null || now - listMadeAt[view] > LIST_TTL_NANOS) {
      List<DesiredStateRegistry.Entry> entries = new ArrayList<>();
      for (String n : registry.names()) {
        entries.add(registry.get(n));
      }
      for (String n : registry.leavingNames()) {
        entries.add(registry.leaving(n));
      }
      made =
          vertx.executeBlocking(
              () -> {
                List<Object> items = new ArrayList<>();
                for (DesiredStateRegistry.Entry e : entries) {
                  items.add(views.deployment(e, reconciler.status(e.name()), withSpec));
                }
                // Serialized and encoded here, on the worker, once for every request it answers.
                return Buffer.buffer(JSON.writeValueAsBytes(Map.of("items", items)));
              },
              false);
      lists[view] = made;
      listMadeAt[view] = now;
    }
    made.onComplete(
        ar -> {
          if (ar.failed()) {
            lists[view] = null;
            reply(rc, 200, ar);
          } else if (!rc.response().ended()) {
            rc.response()
                .setStatusCode(200)
                .putHeader("Content-Type", "application/json")
                .end(ar.result());
          }
        });
  }

  private void get(RoutingContext rc) {
    DesiredStateRegistry.Entry e = entry(rc, true);
    boolean hasToken = hasToken(rc);
    vertx
        .executeBlocking(() -> views.deployment(e, reconciler.status(e.name()), hasToken), false)
        .onComplete(ar -> reply(rc, 200, ar));
  }

  private void history(RoutingContext rc) {
    DesiredStateRegistry.Entry e = entry(rc, true);
    int limit = parseLimit(rc.queryParams().get("limit"));
    vertx
        .executeBlocking(() -> Map.of("items", views.history(e.name(), limit)), false)
        .onComplete(ar -> reply(rc, 200, ar));
  }

  private void rollout(RoutingContext rc) {
    DesiredStateRegistry.Entry e = entry(rc, true);
    String raw = rc.pathParam("id");
    long id;
    try {
      id = Long.parseLong(raw);
    } catch (NumberFormatException ex) {
      throw new ApiError(400, "BadRequest", "rollout id must be a number, got '" + raw + "'");
    }
    vertx
        .executeBlocking(() -> views.rollout(e.name(), id), false)
        .onComplete(
            ar -> {
              if (ar.succeeded() && ar.result().isEmpty()) {
                error(
                    rc,
                    new ApiError(
                        404, "NotFound", "no rollout " + id + " in the history of " + e.name()));
              } else {
                reply(rc, 200, ar.map(o -> o.orElseThrow()));
              }
            });
  }

  private static int parseLimit(String s) {
    try {
      return s == null ? 50 : Math.max(1, Math.min(1000, Integer.parseInt(s)));
    } catch (NumberFormatException e) {
      throw new ApiError(400, "BadRequest", "limit must be a number, got '" + s + "'");
    }
  }

  private void reconcile(RoutingContext rc) {
    DesiredStateRegistry.Entry e = entry(rc);
    reconciler
        .commands()
        .reconcile(e.name(), caller(rc))
        .onComplete(
            ar -> {
              if (ar.failed()) {
                error(rc, new ApiError(500, "InternalError", ar.cause().getMessage()));
              } else if (ar.result().rolloutId() != null) {
                json(
                    rc,
                    202,
                    Map.of("rolloutId", ar.result().rolloutId(), "message", ar.result().message()));
              } else {
                json(rc, 200, Map.of("message", ar.result().message()));
              }
            });
  }

  private void rollback(RoutingContext rc) {
    DesiredStateRegistry.Entry e = entry(rc);
    String to = null;
    boolean restore = false;
    String body = rc.body() == null ? null : rc.body().asString();
    if (body != null && !body.isBlank()) {
      JsonObject o;
      try {
        o = new JsonObject(body);
      } catch (RuntimeException ex) {
        throw new ApiError(400, "BadRequest", "body is not a JSON object: " + ex.getMessage());
      }
      for (String k : o.fieldNames()) {
        if (!k.equals("to") && !k.equals("restoreData")) {
          throw new ApiError(
              400, "BadRequest", "unknown field '" + k + "' (allowed: to, restoreData)");
        }
      }
      Object t = o.getValue("to");
      if (t != null && !(t instanceof String)) {
        throw new ApiError(400, "BadRequest", "'to' must be a commit SHA string");
      }
      to = (String) t;
      Object r = o.getValue("restoreData");
      if (r != null && !(r instanceof Boolean)) {
        throw new ApiError(400, "BadRequest", "'restoreData' must be true or false");
      }
      restore = r != null && (Boolean) r;
    }
    reconciler
        .commands()
        .rollback(e.name(), to, restore, caller(rc))
        .onComplete(
            ar -> {
              if (ar.succeeded()) {
                json(rc, 202, Map.of("rolloutId", ar.result()));
              } else if (ar.cause() instanceof IllegalArgumentException) {
                error(rc, new ApiError(400, "BadRequest", ar.cause().getMessage()));
              } else {
                error(rc, new ApiError(409, "Conflict", ar.cause().getMessage()));
              }
            });
  }

  private void webhook(RoutingContext rc) {
    byte[] body =
        rc.body() == null || rc.body().buffer() == null
            ? new byte[0]
            : rc.body().buffer().getBytes();
    String sig = rc.request().getHeader("X-Hub-Signature-256");
    String event = rc.request().getHeader("X-GitHub-Event");
    String delivery = rc.request().getHeader("X-GitHub-Delivery");
    webhooks
        .secrets()
        .onComplete(
            ar -> {
              if (ar.failed()) {
                error(
                    rc,
                    new ApiError(
                        500,
                        "InternalError",
                        "cannot read webhook secrets: " + ar.cause().getMessage()));
                return;
              }
              List<String> secrets = ar.result();
              if (secrets.isEmpty()) {
                error(
                    rc,
                    new ApiError(
                        404, "NotFound", "no webhook secret is configured on any git source"));
                return;
              }
              boolean ok = secrets.stream().anyMatch(s -> WebhookSignature.valid(s, body, sig));
              if (!ok) {
                error(
                    rc,
                    new ApiError(
                        401,
                        "Unauthorized",
                        sig == null
                            ? "missing X-Hub-Signature-256"
                            : "X-Hub-Signature-256 does not match any configured secret"));
                return;
              }
              if ("ping".equals(event)) {
                json(rc, 200, Map.of("message", "pong"));
                return;
              }
              webhooks.refreshAll(delivery == null ? "webhook" : "webhook:" + delivery);
              json(rc, 202, Map.of("message", "refreshing every source and app repository"));
            });
  }

  /**
   * Server-sent events: every transition, rollout step and check round as it happens, for the
   * status page and {@code vtrack watch}. {@code ?deployment=NAME} narrows the stream.
   */
  private void events(RoutingContext rc) {
    String only = rc.queryParams().get("deployment");
    var resp = rc.response();
    resp.setChunked(true)
        .putHeader("Content-Type", "text/event-stream")
        .putHeader("Cache-Control", "no-cache")
        .putHeader("Connection", "keep-alive");
    resp.write(": vtrack event stream\n\n");
    MessageConsumer<String> consumer =
        vertx
            .eventBus()
            .consumer(
                Addresses.EVENTS,
                msg -> {
                  String body = msg.body();
                  if (only != null && !body.contains("\"deployment\":\"" + only + "\"")) {
                    return;
                  }
                  String type =
                      body.startsWith("{\"type\":\"")
                          ? body.substring(9, body.indexOf('"', 9))
                          : "message";
                  if (!resp.ended() && !resp.writeQueueFull()) {
                    resp.write("event: " + type + "\ndata: " + body + "\n\n");
                  }
                });
    long ping =
        vertx.setPeriodic(
            15_000,
            id -> {
              if (!resp.ended()) {
                resp.write(": ping\n\n");
              }
            });
    resp.closeHandler(
        v -> {
          consumer.unregister();
          vertx.cancelTimer(ping);
        });
  }

  private void plan(RoutingContext rc) {
    DesiredStateRegistry.Entry e = entry(rc);
    reconciler.commands().plan(e.name()).onComplete(ar -> reply(rc, 200, ar));
  }

  private void diff(RoutingContext rc) {
    DesiredStateRegistry.Entry e = entry(rc);
    reconciler.commands().diff(e.name()).onComplete(ar -> reply(rc, 200, ar));
  }

  private void suspend(RoutingContext rc, boolean suspended) {
    DesiredStateRegistry.Entry e = entry(rc);
    reconciler
        .commands()
        .setSuspended(e.name(), suspended, caller(rc))
        .onComplete(
            ar -> {
              if (ar.succeeded()) {
                json(rc, 200, Map.of("name", e.name(), "suspended", suspended));
              } else {
                error(rc, new ApiError(409, "Conflict", ar.cause().getMessage()));
              }
            });
  }

  private void reply(RoutingContext rc, int status, io.vertx.core.AsyncResult<?> ar) {
    if (ar.succeeded()) {
      json(rc, status, ar.result());
    } else if (ar.cause() instanceof ApiError e) {
      error(rc, e);
    } else {
      error(rc, new ApiError(500, "InternalError", String.valueOf(ar.cause().getMessage())));
    }
  }

  static void json(RoutingContext rc, int status, Object body) {
    if (rc.response().ended()) {
      return;
    }
    rc.response()
        .setStatusCode(status)
        .putHeader("Content-Type", "application/json")
        .end(JSON.writeValueAsString(body));
  }

  static void error(RoutingContext rc, ApiError e) {
    json(
        rc,
        e.status(),
        Map.of("error", e.error(), "message", e.getMessage() == null ? "" : e.getMessage()));
  }
}
