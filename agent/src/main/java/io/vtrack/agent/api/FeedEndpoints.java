package io.vtrack.agent.api;

import io.vertx.core.Vertx;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.RoutingContext;
import io.vtrack.agent.Addresses;
import io.vtrack.agent.source.WebhookSignature;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** What flows in and out as it happens: the git webhook and the server-sent event stream. */
final class FeedEndpoints {
  private final Vertx vertx;
  private final ApiServer.Sources sources;

  /** A client of the event stream, and the deployment it narrowed it to (null: all). */
  private record Subscriber(HttpServerResponse resp, String only) {}

  /**
   * The clients of the event stream, fed by one consumer on the API server's event loop (where they
   * come and go too): a client that leaves never has a message discarded under it.
   */
  private final Set<Subscriber> subscribers = new LinkedHashSet<>();

  private MessageConsumer<String> consumer;

  FeedEndpoints(Vertx vertx, ApiServer.Sources sources) {
    this.vertx = vertx;
    this.sources = sources;
  }

  /** A signed git push (GitHub's format): every source and app repository is fetched now. */
  void webhook(RoutingContext rc) {
    byte[] body = RawBody.of(rc).getBytes();
    String sig = rc.request().getHeader("X-Hub-Signature-256");
    String event = rc.request().getHeader("X-GitHub-Event");
    String delivery = rc.request().getHeader("X-GitHub-Delivery");
    sources
        .secrets()
        .onComplete(
            ar -> {
              if (ar.failed()) {
                Replies.error(
                    rc,
                    new ApiError(
                        500,
                        "InternalError",
                        "cannot read webhook secrets: " + ar.cause().getMessage()));
                return;
              }
              List<String> secrets = ar.result();
              if (secrets.isEmpty()) {
                Replies.error(
                    rc,
                    new ApiError(
                        404, "NotFound", "no webhook secret is configured on any git source"));
                return;
              }
              boolean ok = secrets.stream().anyMatch(s -> WebhookSignature.valid(s, body, sig));
              if (!ok) {
                Replies.error(
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
                Replies.json(rc, 200, Map.of("message", "pong"));
                return;
              }
              sources.refreshAll(delivery == null ? "webhook" : "webhook:" + delivery);
              Replies.json(
                  rc, 202, Map.of("message", "refreshing every source and app repository"));
            });
  }

  /**
   * Server-sent events: every transition, rollout step and check round as it happens, for the
   * status page and {@code vtrack watch}. {@code ?deployment=NAME} narrows the stream.
   */
  void events(RoutingContext rc) {
    String only = rc.queryParams().get("deployment");
    var resp = rc.response();
    resp.setChunked(true)
        .putHeader("Content-Type", "text/event-stream")
        .putHeader("Cache-Control", "no-cache")
        .putHeader("Connection", "keep-alive");
    resp.write(": vtrack event stream\n\n");
    Subscriber sub = new Subscriber(resp, only);
    subscribers.add(sub);
    if (consumer == null) {
      consumer = vertx.eventBus().consumer(Addresses.EVENTS, this::fanOut);
    }
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
          subscribers.remove(sub);
          vertx.cancelTimer(ping);
        });
  }

  /** Hands an event to every client that asked for its deployment (or for all). */
  private void fanOut(Message<String> msg) {
    String body = msg.body();
    String type =
        body.startsWith("{\"type\":\"") ? body.substring(9, body.indexOf('"', 9)) : "message";
    String frame = null;
    for (Subscriber s : subscribers) {
      if (s.only() != null && !body.contains("\"deployment\":\"" + s.only() + "\"")) {
        continue;
      }
      if (!s.resp().ended() && !s.resp().writeQueueFull()) {
        if (frame == null) {
          frame = "event: " + type + "\ndata: " + body + "\n\n";
        }
        s.resp().write(frame);
      }
    }
  }
}
