package io.vtrack.agent.api;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.ext.web.RoutingContext;
import io.vtrack.agent.reconcile.Reconciler;
import io.vtrack.agent.source.DesiredStateRegistry;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The reads of DESIGN.md §4: the deployment list (made on a worker, served again for 200 ms), one
 * deployment, its history and one rollout. Specs only for token holders.
 */
final class ReadEndpoints {
  private final Vertx vertx;
  private final DeploymentLookup lookup;
  private final Reconciler reconciler;
  private final DeploymentViews views;
  private final ApiAccess access;

  ReadEndpoints(
      Vertx vertx,
      DeploymentLookup lookup,
      Reconciler reconciler,
      DeploymentViews views,
      ApiAccess access) {
    this.vertx = vertx;
    this.lookup = lookup;
    this.reconciler = reconciler;
    this.views = views;
    this.access = access;
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

  void forgetLists() {
    lists[0] = null;
    lists[1] = null;
  }

  void list(RoutingContext rc) {
    boolean withSpec = access.hasToken(rc);
    int view = withSpec ? 1 : 0;
    long now = System.nanoTime();
    Future<Buffer> made = lists[view];
    if (made == null || now - listMadeAt[view] > LIST_TTL_NANOS) {
      List<DesiredStateRegistry.Entry> entries = lookup.all();
      made =
          vertx.executeBlocking(
              () -> {
                List<Object> items = new ArrayList<>();
                for (DesiredStateRegistry.Entry e : entries) {
                  items.add(views.deployment(e, reconciler.status(e.name()), withSpec));
                }
                // Serialized and encoded here, on the worker, once for every request it answers.
                return Buffer.buffer(Replies.JSON.writeValueAsBytes(Map.of("items", items)));
              },
              false);
      lists[view] = made;
      listMadeAt[view] = now;
    }
    made.onComplete(
        ar -> {
          if (ar.failed()) {
            lists[view] = null;
            Replies.reply(rc, 200, ar);
          } else if (!rc.response().ended()) {
            rc.response()
                .setStatusCode(200)
                .putHeader("Content-Type", "application/json")
                .end(ar.result());
          }
        });
  }

  void get(RoutingContext rc) {
    DesiredStateRegistry.Entry e = lookup.entry(rc, true);
    boolean hasToken = access.hasToken(rc);
    vertx
        .executeBlocking(() -> views.deployment(e, reconciler.status(e.name()), hasToken), false)
        .onComplete(ar -> Replies.reply(rc, 200, ar));
  }

  void history(RoutingContext rc) {
    DesiredStateRegistry.Entry e = lookup.entry(rc, true);
    int limit = parseLimit(rc.queryParams().get("limit"));
    vertx
        .executeBlocking(() -> Map.of("items", views.history(e.name(), limit)), false)
        .onComplete(ar -> Replies.reply(rc, 200, ar));
  }

  void rollout(RoutingContext rc) {
    DesiredStateRegistry.Entry e = lookup.entry(rc, true);
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
                Replies.error(
                    rc,
                    new ApiError(
                        404, "NotFound", "no rollout " + id + " in the history of " + e.name()));
              } else {
                Replies.reply(rc, 200, ar.map(o -> o.orElseThrow()));
              }
            });
  }

  private static int parseLimit(String s) {
    try {
      // Clamped to 1..1000, however large the number asked for.
      return s == null
          ? 50
          : new java.math.BigInteger(s.strip())
              .max(java.math.BigInteger.ONE)
              .min(java.math.BigInteger.valueOf(1000))
              .intValue();
    } catch (NumberFormatException e) {
      throw new ApiError(400, "BadRequest", "limit must be a whole number, got '" + s + "'");
    }
  }
}
