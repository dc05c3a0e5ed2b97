package io.vtrack.agent.check;

import io.vertx.core.Future;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vtrack.agent.model.CheckSpec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code samples} sequential requests; the median (and p95 from 20 samples) is compared with the
 * baseline the last healthy commit recorded. It fails only above both {@code maxIncrease} and
 * {@code minDelta}, so a few milliseconds of noise on a fast endpoint are not a regression.
 */
final class LatencyCheck implements HealthCheck, Baselined {
  private final CheckSpec spec;
  private final String url;
  private final HttpClient client;
  private final Double baselineMs;
  private final boolean verifying;
  private final List<Double> medians = new ArrayList<>();

  LatencyCheck(
      CheckSpec spec, String url, HttpClient client, Double baselineMs, boolean verifying) {
    this.spec = spec;
    this.url = url;
    this.client = client;
    this.baselineMs = baselineMs;
    this.verifying = verifying;
  }

  @Override
  public CheckSpec spec() {
    return spec;
  }

  @Override
  public java.util.Optional<java.net.InetSocketAddress> asks() {
    return HealthCheck.addressOf(url);
  }

  @Override
  public synchronized Double baselineValue() {
    return medians.isEmpty() ? null : percentile(medians, 50);
  }

  @Override
  public Future<CheckResult> run() {
    long start = System.nanoTime();
    List<Double> times = new ArrayList<>();
    Future<Void> chain = Future.succeededFuture();
    int n = spec.latency().samples();
    for (int i = 0; i < n; i++) {
      // Fail as soon as it is certain: once the median is over the limit even if every sample
      // still to come took no time at all, the rest cannot change the verdict.
      chain =
          chain.compose(v -> certainlyOver(times, n) ? Future.succeededFuture() : sample(times));
    }
    return chain
        .map(v -> judge(times, start))
        .recover(
            err ->
                Future.succeededFuture(
                    result(
                            CheckStatus.Failing,
                            null,
                            "request failed: " + HttpCheck.describe(err),
                            start)
                        .as(Failure.NotReady)));
  }

  private Future<Void> sample(List<Double> times) {
    long t0 = System.nanoTime();
    long timeout = spec.effectiveTimeout().millis();
    return client
        .request(
            new RequestOptions().setMethod(HttpMethod.GET).setAbsoluteURI(url).setTimeout(timeout))
        .compose(req -> req.send())
        .compose(HttpClientResponse::body)
        .compose(
            body -> {
              times.add((System.nanoTime() - t0) / 1e6);
              return Future.succeededFuture();
            });
  }

  /** The limit a median must stay under during verification, or +infinity when none applies. */
  private double limitMs() {
    if (!verifying || baselineMs == null) {
      return Double.POSITIVE_INFINITY;
    }
    return Math.max(
        baselineMs * (1 + spec.latency().maxIncrease().fraction()),
        baselineMs + spec.latency().minDelta().millis());
  }

  /** Whether the median of {@code n} samples is over the limit whatever the missing ones are. */
  boolean certainlyOver(List<Double> times, int n) {
    double limit = limitMs();
    if (Double.isInfinite(limit) || times.isEmpty() || times.size() >= n) {
      return false;
    }
    List<Double> best = new ArrayList<>(times);
    while (best.size() < n) {
      best.add(0.0);
    }
    return percentile(best, 50) > limit;
  }

  private CheckResult judge(List<Double> times, long start) {
    double median = percentile(times, 50);
    synchronized (this) {
      medians.add(median);
    }
    String value = String.format(Locale.ROOT, "%.1fms", median);
    String p95 =
        times.size() >= 20 ? String.format(Locale.ROOT, ", p95 %.1fms", percentile(times, 95)) : "";
    if (!verifying || baselineMs == null) {
      return result(
          CheckStatus.Passing,
          value,
          "median " + value + p95 + (baselineMs == null ? " (no baseline yet)" : ""),
          start);
    }
    double limitPct = baselineMs * (1 + spec.latency().maxIncrease().fraction());
    double limitDelta = baselineMs + spec.latency().minDelta().millis();
    String vs = String.format(Locale.ROOT, " vs baseline %.1fms", baselineMs);
    if (median > limitPct && median > limitDelta) {
      return result(
          CheckStatus.Failing,
          value,
          "median "
              + value
              + p95
              + vs
              + ": above +"
              + spec.latency().maxIncrease().text()
              + " and +"
              + spec.latency().minDelta().text()
              + (times.size() < spec.latency().samples()
                  ? " (stopped after "
                      + times.size()
                      + " of "
                      + spec.latency().samples()
                      + " samples: the median could not come under)"
                  : ""),
          start);
    }
    return result(CheckStatus.Passing, value, "median " + value + p95 + vs, start);
  }

  static double percentile(List<Double> values, int pct) {
    List<Double> sorted = new ArrayList<>(values);
    sorted.sort(Double::compare);
    if (sorted.isEmpty()) {
      return 0;
    }
    if (pct == 50 && sorted.size() % 2 == 0) {
      return (sorted.get(sorted.size() / 2 - 1) + sorted.get(sorted.size() / 2)) / 2;
    }
    int idx = (int) Math.ceil(pct / 100.0 * sorted.size()) - 1;
    return sorted.get(Math.max(0, Math.min(idx, sorted.size() - 1)));
  }

  private CheckResult result(CheckStatus status, String value, String message, long start) {
    long ms = (System.nanoTime() - start) / 1_000_000;
    return new CheckResult(
        spec.name(), "latency", status, value, message, ms, Instant.now().toString());
  }
}
