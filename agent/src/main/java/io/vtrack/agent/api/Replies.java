package io.vtrack.agent.api;

import io.vertx.core.AsyncResult;
import io.vertx.ext.web.RoutingContext;
import java.util.Map;
import tools.jackson.databind.json.JsonMapper;

/** JSON answers and the error body of DESIGN.md §4, for every endpoint. */
final class Replies {
  /** The API's one mapper (answers are written with it, on the loop or on a worker). */
  static final JsonMapper JSON = JsonMapper.builder().build();

  private Replies() {}

  static void reply(RoutingContext rc, int status, AsyncResult<?> ar) {
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
