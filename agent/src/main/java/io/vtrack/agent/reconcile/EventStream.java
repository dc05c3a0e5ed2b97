package io.vtrack.agent.reconcile;

import io.vertx.core.Vertx;
import io.vtrack.agent.Addresses;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import tools.jackson.databind.json.JsonMapper;

/**
 * Publishes what happens (steps, rounds, rollouts, status) on the event bus for the API's event
 * stream. Safe from any thread.
 */
final class EventStream {
  private static final JsonMapper JSON = JsonMapper.builder().build();

  private final Vertx vertx;

  EventStream(Vertx vertx) {
    this.vertx = vertx;
  }

  /** Publishes an event: a type, the deployment and key/value pairs (null values left out). */
  void emit(String type, String deployment, Object... kv) {
    Map<String, Object> e = new LinkedHashMap<>();
    e.put("type", type);
    e.put("deployment", deployment);
    for (int i = 0; i + 1 < kv.length; i += 2) {
      if (kv[i + 1] != null) {
        e.put(String.valueOf(kv[i]), kv[i + 1]);
      }
    }
    e.put("at", Instant.now().toString());
    vertx.eventBus().publish(Addresses.EVENTS, JSON.writeValueAsString(e));
  }

  /** The end of {@code s}, at most {@code max} characters. */
  static String tail(String s, int max) {
    return s == null || s.length() <= max ? s : "…" + s.substring(s.length() - max);
  }
}
