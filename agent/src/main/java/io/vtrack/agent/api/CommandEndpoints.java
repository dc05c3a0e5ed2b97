package io.vtrack.agent.api;

import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import io.vtrack.agent.reconcile.Reconciler;
import io.vtrack.agent.source.DesiredStateRegistry;
import java.util.Locale;
import java.util.Map;
import tools.jackson.core.JacksonException;
import tools.jackson.core.TokenStreamLocation;
import tools.jackson.databind.JsonNode;

/**
 * The commands of DESIGN.md §4 (reconcile, rollback, suspend, resume) and the plan and diff that
 * preview them; each goes to the deployment's slot through the reconciler's commands.
 */
final class CommandEndpoints {
  private final DeploymentLookup lookup;
  private final Reconciler reconciler;
  private final ApiServer.Sources sources;

  CommandEndpoints(DeploymentLookup lookup, Reconciler reconciler, ApiServer.Sources sources) {
    this.lookup = lookup;
    this.reconciler = reconciler;
    this.sources = sources;
  }

  /** Now means the revision as it is now: the document's source and app repository first. */
  void reconcile(RoutingContext rc) {
    DesiredStateRegistry.Entry e = lookup.entry(rc);
    sources
        .refresh(e.name())
        .compose(x -> reconciler.commands().reconcile(e.name(), ApiAccess.caller(rc)))
        .onComplete(
            ar -> {
              if (ar.failed()) {
                Replies.error(rc, new ApiError(500, "InternalError", ar.cause().getMessage()));
              } else if (ar.result().rolloutId() != null) {
                Replies.json(
                    rc,
                    202,
                    Map.of("rolloutId", ar.result().rolloutId(), "message", ar.result().message()));
              } else {
                Replies.json(rc, 200, Map.of("message", ar.result().message()));
              }
            });
  }

  void rollback(RoutingContext rc) {
    DesiredStateRegistry.Entry e = lookup.entry(rc);
    String to = null;
    Boolean restore = null;
    String body = RawBody.of(rc).toString();
    if (!body.isBlank()) {
      JsonObject o = jsonObject(body);
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
      if (to != null && !to.matches("[0-9a-fA-F]{4,40}")) {
        throw new ApiError(
            400,
            "BadRequest",
            "'to' must be a commit SHA of 4 to 40 hex digits, got '"
                + io.vtrack.agent.Texts.abbreviate(to, 48)
                + "'");
      }
      to = to == null ? null : to.toLowerCase(java.util.Locale.ROOT);
      Object r = o.getValue("restoreData");
      if (r != null && !(r instanceof Boolean)) {
        throw new ApiError(400, "BadRequest", "'restoreData' must be true or false");
      }
      restore = (Boolean) r;
    }
    reconciler
        .commands()
        .rollback(e.name(), to, restore, ApiAccess.caller(rc))
        .onComplete(
            ar -> {
              if (ar.succeeded()) {
                Map<String, Object> answer = new java.util.LinkedHashMap<>();
                answer.put("rolloutId", ar.result().rolloutId());
                if (ar.result().message() != null) {
                  answer.put("message", ar.result().message());
                }
                Replies.json(rc, 202, answer);
              } else if (ar.cause() instanceof IllegalArgumentException) {
                Replies.error(rc, new ApiError(400, "BadRequest", ar.cause().getMessage()));
              } else {
                Replies.error(rc, new ApiError(409, "Conflict", ar.cause().getMessage()));
              }
            });
  }

  void plan(RoutingContext rc) {
    DesiredStateRegistry.Entry e = lookup.entry(rc);
    reconciler.planAndDiff().plan(e.name()).onComplete(ar -> Replies.reply(rc, 200, ar));
  }

  void diff(RoutingContext rc) {
    DesiredStateRegistry.Entry e = lookup.entry(rc);
    reconciler.planAndDiff().diff(e.name()).onComplete(ar -> Replies.reply(rc, 200, ar));
  }

  void suspend(RoutingContext rc, boolean suspended) {
    DesiredStateRegistry.Entry e = lookup.entry(rc);
    reconciler
        .commands()
        .setSuspended(e.name(), suspended, ApiAccess.caller(rc))
        .onComplete(
            ar -> {
              if (ar.succeeded()) {
                Map<String, Object> body = new java.util.LinkedHashMap<>();
                body.put("name", e.name());
                body.put("suspended", suspended);
                if (ar.result() != null) {
                  body.put("message", ar.result());
                }
                Replies.json(rc, 200, body);
              } else {
                Replies.error(rc, new ApiError(409, "Conflict", ar.cause().getMessage()));
              }
            });
  }

  /** The body as a JSON object, or a 400 that says what is wrong with it and where. */
  private static JsonObject jsonObject(String body) {
    JsonNode node;
    try {
      node = Replies.JSON.readTree(body);
    } catch (JacksonException ex) {
      String what = ex.getOriginalMessage();
      int nl = what == null ? -1 : what.indexOf('\n');
      TokenStreamLocation at = ex.getLocation();
      throw new ApiError(
          400,
          "BadRequest",
          "body is not valid JSON: "
              // Jackson's note of where an object started names its own source settings.
              + (nl > 0 ? what.substring(0, nl) : what)
                  .replaceAll(" \\(start marker at \\[[^\\]]*\\]\\)", "")
              + (at != null && at.getLineNr() > 0
                  ? " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")"
                  : ""));
    }
    if (!node.isObject()) {
      throw new ApiError(
          400,
          "BadRequest",
          "body must be a JSON object such as {\"to\": \"<commit>\", \"restoreData\": true}, got "
              + node.getNodeType().name().toLowerCase(Locale.ROOT));
    }
    return new JsonObject(body);
  }
}
