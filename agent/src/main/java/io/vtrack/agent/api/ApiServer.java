package io.vtrack.agent.api;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.ext.web.Router;
import io.vtrack.agent.metrics.AgentMetrics;
import io.vtrack.agent.reconcile.Reconciler;
import io.vtrack.agent.source.DesiredStateRegistry;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The HTTP API of DESIGN.md §4 on Vert.x Web: the routes, who may take them ({@link ApiAccess}) and
 * what answers an unknown one. Reads are {@link ReadEndpoints}, commands {@link CommandEndpoints},
 * the webhook and the event stream {@link FeedEndpoints}.
 */
public final class ApiServer {

  /**
   * What the webhook and {@code reconcile} need of the sources: the configured secrets, and ways to
   * read the sources and fetch the app repositories now.
   */
  public interface Sources {
    /** Secrets of the git sources that have one; empty when none is configured. */
    Future<List<String>> secrets();

    void refreshAll(String deliveryId);

    /**
     * Reads the source of {@code deployment}'s document and fetches its app repository now;
     * completes (never fails) once done, a source that does not answer said as on a poll.
     */
    Future<Void> refresh(String deployment);
  }

  private final Vertx vertx;
  private final AgentMetrics metrics;
  private final Supplier<String> notReady;
  private final ApiAccess access;
  private final ReadEndpoints reads;
  private final CommandEndpoints commands;
  private final FeedEndpoints feeds;
  private HttpServer server;

  public ApiServer(
      Vertx vertx,
      DesiredStateRegistry registry,
      Reconciler reconciler,
      DeploymentViews views,
      AgentMetrics metrics,
      String token,
      Sources sources,
      Supplier<String> notReady,
      Supplier<String> agentName,
      List<String> allowedHosts) {
    this.vertx = vertx;
    this.metrics = metrics;
    this.notReady = notReady;
    List<String> names = new ArrayList<>(allowedHosts);
    names.add(agentName.get());
    try {
      names.add(InetAddress.getLocalHost().getHostName());
    } catch (Exception e) {
      // No host name: IP literals and localhost still work.
    }
    this.access = new ApiAccess(token, new AllowedHosts(names));
    DeploymentLookup lookup = new DeploymentLookup(registry, agentName);
    this.reads = new ReadEndpoints(vertx, lookup, reconciler, views, access);
    this.commands = new CommandEndpoints(lookup, reconciler, sources);
    this.feeds = new FeedEndpoints(vertx, sources);
  }

  public Future<HttpServer> listen(String host, int port) {
    Router router = Router.router(vertx);
    // Before anything else: a Host this agent does not answer to (DNS rebinding) is refused.
    router.route().order(-1).handler(access::knownHost);
    // A list made before a command answered is not served after it: read your own writes.
    router
        .route()
        .handler(
            rc -> {
              if (rc.request().method() != HttpMethod.GET) {
                rc.addEndHandler(v -> reads.forgetLists());
              }
              rc.next();
            });
    router.get("/healthz").handler(rc -> Replies.json(rc, 200, Map.of("status", "ok")));
    router
        .get("/readyz")
        .handler(
            rc -> {
              String why = notReady.get();
              Replies.json(
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
    router.get("/api/v1/events").handler(feeds::events);
    // The plan and the diff show commands and spec values: token holders only.
    router
        .get("/api/v1/deployments/:name/plan")
        .handler(access::authenticated)
        .handler(commands::plan);
    router
        .get("/api/v1/deployments/:name/diff")
        .handler(access::authenticated)
        .handler(commands::diff);
    router
        .post("/api/v1/deployments/:name/suspend")
        .handler(access::authenticated)
        .handler(rc -> commands.suspend(rc, true));
    router
        .post("/api/v1/deployments/:name/resume")
        .handler(access::authenticated)
        .handler(rc -> commands.suspend(rc, false));
    router.get("/api/v1/deployments").handler(reads::list);
    router.get("/api/v1/deployments/:name").handler(reads::get);
    router.get("/api/v1/deployments/:name/history").handler(reads::history);
    router.get("/api/v1/deployments/:name/history/:id").handler(reads::rollout);
    router
        .post("/api/v1/deployments/:name/reconcile")
        .handler(access::authenticated)
        .handler(commands::reconcile);
    router
        .post("/api/v1/deployments/:name/rollback")
        .handler(RawBody.upTo(64 * 1024))
        .handler(access::authenticated)
        .handler(commands::rollback);
    router.post("/api/v1/hooks/git").handler(RawBody.upTo(1 << 20)).handler(feeds::webhook);
    router
        .route()
        .last()
        .handler(
            rc -> {
              // The path the routes were matched on: "%2e%2e" segments resolved.
              String allow = Endpoints.allowed(rc.normalizedPath());
              if (allow != null) {
                rc.response().putHeader("Allow", allow);
                Replies.error(
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
              Replies.error(
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
                Replies.error(rc, e);
              } else if (rc.statusCode() == 413) {
                Replies.error(rc, new ApiError(413, "PayloadTooLarge", "request body too large"));
              } else {
                Replies.error(
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
                .setIdleTimeoutUnit(TimeUnit.SECONDS)
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
}
