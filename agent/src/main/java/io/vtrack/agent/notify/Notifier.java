package io.vtrack.agent.notify;

import io.github.resilience4j.core.IntervalFunction;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vtrack.agent.HttpAnswers;
import io.vtrack.agent.check.CheckResult;
import io.vtrack.agent.model.NotifySpec;
import io.vtrack.agent.model.Phase;
import io.vtrack.agent.reconcile.DeploymentStatus;
import io.vtrack.agent.store.StateStore;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.json.JsonMapper;

/**
 * POSTs a JSON payload to the {@code notify:} URLs on the phase transitions they list. Delivery is
 * asynchronous with retries and capped backoff; it never blocks or fails a rollout. Each delivery's
 * outcome is recorded as an event of the deployment.
 */
public final class Notifier {
  private static final Logger LOG = LoggerFactory.getLogger(Notifier.class);
  private static final JsonMapper JSON = JsonMapper.builder().build();
  private static final int ATTEMPTS = 4;
  private static final IntervalFunction BACKOFF =
      IntervalFunction.ofExponentialRandomBackoff(
          Duration.ofSeconds(1), 2.0, 0.2, Duration.ofSeconds(30));

  private final Vertx vertx;
  private final HttpClient http;
  private final StateStore store;
  private final String agentName;
  private final String statusPage;

  public Notifier(
      Vertx vertx, HttpClient http, StateStore store, String agentName, String statusPage) {
    this(vertx, http, store, agentName, statusPage, ANSWER_MILLIS);
  }

  Notifier(
      Vertx vertx,
      HttpClient http,
      StateStore store,
      String agentName,
      String statusPage,
      long answerMillis) {
    this.vertx = vertx;
    this.http = http;
    this.store = store;
    this.agentName = agentName;
    this.statusPage = statusPage;
    this.answerMillis = answerMillis;
  }

  /**
   * A webhook's answer must end this long after its head, else its connection is broken off: the
   * status is all the agent reads, and an answer that streams without end (its idle timeout never
   * runs out) held one of the agent's connections for good, one more at every notification.
   */
  static final long ANSWER_MILLIS = 10_000;

  private final long answerMillis;

  /** Called on every phase transition of a deployment. */
  public void transition(
      String deployment, Phase from, DeploymentStatus to, List<NotifySpec> targets) {
    for (NotifySpec n : targets) {
      if (n.on().contains(to.phase().name())) {
        Map<String, Object> payload = payload(deployment, from, to);
        Long rollout = to.lastRollout() == null ? null : to.lastRollout().id();
        deliver(deployment, rollout, n.url(), JSON.writeValueAsString(payload), 1);
      }
    }
  }

  Map<String, Object> payload(String deployment, Phase from, DeploymentStatus st) {
    Map<String, Object> p = new LinkedHashMap<>();
    p.put("deployment", deployment);
    p.put("agent", agentName);
    p.put("phase", st.phase().name());
    p.put("previousPhase", from == null ? null : from.name());
    p.put("message", st.message());
    p.put("desiredRevision", st.desiredRevision());
    p.put("desiredCommit", st.desiredCommit());
    p.put("currentCommit", st.currentCommit());
    p.put("lastHealthyCommit", st.lastHealthyCommit());
    DeploymentStatus.LastRollout r = st.lastRollout();
    if (r != null) {
      Map<String, Object> ro = new LinkedHashMap<>();
      ro.put("id", r.id());
      ro.put("from", r.from());
      ro.put("to", r.to());
      ro.put("result", r.result());
      ro.put("reason", r.reason());
      ro.put("message", r.message());
      ro.put("durationMs", r.durationMs());
      p.put("rollout", ro);
    }
    List<String> failing = new ArrayList<>();
    if (st.checks() != null) {
      for (CheckResult c : st.checks()) {
        if (c.failing()) {
          failing.add(c.name() + ": " + c.message());
        }
      }
    }
    p.put("failingChecks", failing);
    p.put("link", statusPage);
    p.put("at", Instant.now().toString());
    p.put(
        "text",
        "vtrack " + agentName + "/" + deployment + ": " + st.phase() + " — " + st.message());
    return p;
  }

  void deliver(String deployment, Long rollout, String url, String body, int attempt) {
    http.request(
            new RequestOptions().setMethod(HttpMethod.POST).setAbsoluteURI(url).setTimeout(10_000))
        .compose(
            req ->
                req.putHeader("Content-Type", "application/json")
                    .putHeader("User-Agent", "vtrack-agent")
                    .send(Buffer.buffer(body))
                    .onSuccess(resp -> HttpAnswers.within(resp.end(), answerMillis, req)))
        .compose(
            resp ->
                resp.statusCode() / 100 == 2
                    ? Future.succeededFuture(resp.statusCode())
                    : Future.failedFuture("HTTP " + resp.statusCode()))
        .onComplete(
            ar -> {
              if (ar.succeeded()) {
                record(
                    deployment,
                    rollout,
                    "NotificationSent",
                    redact(url) + " answered " + ar.result() + " (attempt " + attempt + ")");
              } else if (attempt < ATTEMPTS) {
                long delay = BACKOFF.apply(attempt);
                LOG.warn(
                    "{}: notification to {} failed ({}); retrying in {} ms",
                    deployment,
                    redact(url),
                    ar.cause().getMessage(),
                    delay);
                vertx.setTimer(delay, id -> deliver(deployment, rollout, url, body, attempt + 1));
              } else {
                record(
                    deployment,
                    rollout,
                    "NotificationFailed",
                    redact(url)
                        + ": "
                        + ar.cause().getMessage()
                        + " after "
                        + attempt
                        + " attempts");
              }
            });
  }

  /** Webhook URLs often carry their secret in the path: only scheme, host and port are shown. */
  static String redact(String url) {
    try {
      URI u = URI.create(url);
      return u.getScheme()
          + "://"
          + u.getHost()
          + (u.getPort() > 0 ? ":" + u.getPort() : "")
          + "/…";
    } catch (RuntimeException e) {
      return "(notify url)";
    }
  }

  private void record(String deployment, Long rollout, String type, String message) {
    vertx.executeBlocking(
        () -> {
          store.events().add(deployment, rollout, type, null, message);
          return null;
        },
        false);
  }
}
