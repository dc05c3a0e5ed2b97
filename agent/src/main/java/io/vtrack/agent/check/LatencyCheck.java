package io.vtrack.agent.check;

import io.vertx.core.Future;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vtrack.agent.model.CheckSpec;
import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * {@code samples} sequential requests; the median (and p95 from 20 samples) is compared with the
 * baseline the last healthy commit recorded. It fails only above both {@code maxIncrease} and
 * {@code minDelta}, so a few milliseconds of noise on a fast endpoint are not a regression.
 *
 * <p>With blue-green the last healthy commit is still running beside the candidate: each sample of
 * the candidate is followed by one of the live instance (the same URL on its ports), and the
 * candidate is compared with the live median of the same round instead of the stored baseline. A
 * host that got busy slows both alike, so its load is not taken for a regression; a live instance
 * that does not answer leaves the stored baseline in charge.
 */
final class LatencyCheck implements HealthCheck, Baselined {
  private final CheckSpec spec;
  private final String url;
  private final HttpClient client;
  private final Double baselineMs;
  private final String baselineOrigin;
  private final boolean verifying;
  private final String liveUrl;
  private final List<Double> medians = new ArrayList<>();

  /**
   * @param baselineOrigin where {@code baselineMs} comes from, for the failure message (e.g.
   *     "recorded when 1a2b3c4 was verified"); null to say nothing
   * @param liveUrl the same URL on the live instance of the last healthy commit, sampled side by
   *     side during verification; null without one
   */
  LatencyCheck(
      CheckSpec spec,
      String url,
      HttpClient client,
      Double baselineMs,
      String baselineOrigin,
      boolean verifying,
      String liveUrl) {
    this.spec = spec;
    this.url = url;
    this.client = client;
    this.baselineMs = baselineMs;
    this.baselineOrigin = baselineOrigin;
    this.verifying = verifying;
    this.liveUrl = verifying ? liveUrl : null;
  }

  @Override
  public CheckSpec spec() {
    return spec;
  }

  @Override
  public Optional<InetSocketAddress> asks() {
    return HealthCheck.addressOf(url);
  }

  @Override
  public synchronized Double baselineValue() {
    return medians.isEmpty() ? null : percentile(medians, 50);
  }

  @Override
  public Future<CheckResult> run() {
    return run(false);
  }

  /**
   * While its limit cannot count, a revision whose first {@value #WARMING_SAMPLES} samples are all
   * over it will not pass this round: the rest would only make the round longer (the round after is
   * the first that can find it wrong, and it takes its full samples).
   */
  @Override
  public Future<CheckResult> runWarmingUp() {
    return run(true);
  }

  static final int WARMING_SAMPLES = 2;

  private Future<CheckResult> run(boolean warmingUp) {
    long start = System.nanoTime();
    List<Double> times = new ArrayList<>();
    List<Double> live = new ArrayList<>();
    // A live instance that failed one sample is not asked again this round: a hung one would
    // otherwise add a timeout to every sample.
    boolean[] liveAnswers = {liveUrl != null};
    // Whether the candidate's current sample was sent: one that then times out is unanswered.
    boolean[] sent = {false};
    Future<Void> chain = Future.succeededFuture();
    int n = spec.latency().samples();
    for (int i = 0; i < n; i++) {
      // Fail as soon as it is certain: once the median is over the limit even if every sample
      // still to come took no time at all, the rest cannot change the verdict.
      chain =
          chain.compose(
              v ->
                  certainlyOver(times, live, n) || (warmingUp && slowSoFar(times, live))
                      ? Future.succeededFuture()
                      : sample(url, times, sent)
                          .compose(
                              x ->
                                  !liveAnswers[0]
                                      ? Future.succeededFuture()
                                      : sample(liveUrl, live, new boolean[1])
                                          .onFailure(err -> liveAnswers[0] = false)
                                          .otherwiseEmpty()));
    }
    return chain
        .map(v -> judge(times, live, start))
        .recover(
            err ->
                Future.succeededFuture(
                    result(CheckStatus.Failing, null, HttpCheck.failed(err, spec), start)
                        .as(Failure.ofRequest(err, sent[0]))));
  }

  private Future<Void> sample(String target, List<Double> times, boolean[] sent) {
    long t0 = System.nanoTime();
    long timeout = spec.effectiveTimeout().millis();
    sent[0] = false;
    return client
        .request(
            new RequestOptions()
                .setMethod(HttpMethod.GET)
                .setAbsoluteURI(target)
                .setTimeout(timeout))
        .compose(
            req -> {
              sent[0] = true;
              return req.send();
            })
        .compose(HttpClientResponse::body)
        .compose(
            body -> {
              times.add((System.nanoTime() - t0) / 1e6);
              return Future.succeededFuture();
            });
  }

  /**
   * What the candidate is compared with: the live instance's median in this round when it answered,
   * else the stored baseline (null: nothing to compare with).
   */
  private Double reference(List<Double> live) {
    // Boxed on both sides: a conditional with one primitive side would unbox a null baseline.
    return live.isEmpty() ? baselineMs : Double.valueOf(percentile(live, 50));
  }

  /** The limit a median must stay under during verification, or +infinity when none applies. */
  private double limitMs(Double reference) {
    if (!verifying || reference == null) {
      return Double.POSITIVE_INFINITY;
    }
    return Math.max(
        reference * (1 + spec.latency().maxIncrease().fraction()),
        reference + spec.latency().minDelta().millis());
  }

  /** Whether the median of {@code n} samples is over the limit whatever the missing ones are. */
  boolean certainlyOver(List<Double> times, List<Double> live, int n) {
    double limit = limitMs(reference(live));
    if (Double.isInfinite(limit) || times.isEmpty() || times.size() >= n) {
      return false;
    }
    List<Double> best = new ArrayList<>(times);
    while (best.size() < n) {
      best.add(0.0);
    }
    return percentile(best, 50) > limit;
  }

  /** Whether the first {@value #WARMING_SAMPLES} samples (or more) are all over the limit. */
  boolean slowSoFar(List<Double> times, List<Double> live) {
    double limit = limitMs(reference(live));
    return times.size() >= WARMING_SAMPLES
        && times.size() < spec.latency().samples()
        && times.stream().allMatch(t -> t > limit);
  }

  private CheckResult judge(List<Double> times, List<Double> live, long start) {
    double median = percentile(times, 50);
    synchronized (this) {
      medians.add(median);
    }
    String value = String.format(Locale.ROOT, "%.1fms", median);
    String p95 =
        times.size() >= 20 ? String.format(Locale.ROOT, ", p95 %.1fms", percentile(times, 95)) : "";
    Double reference = reference(live);
    if (!verifying || reference == null) {
      return result(
          CheckStatus.Passing,
          value,
          // Monitoring compares with nothing: only a verification without one lacks a baseline.
          "median " + value + p95 + (verifying ? " (no baseline yet)" : ""),
          start);
    }
    String vs =
        live.isEmpty()
            ? String.format(Locale.ROOT, " vs baseline %.1fms", reference)
                + (baselineOrigin == null ? "" : " (" + baselineOrigin + ")")
            : String.format(
                Locale.ROOT, " vs %.1fms on the live instance, side by side", reference);
    if (median > limitMs(reference)) {
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
                      + (certainlyOver(times, live, spec.latency().samples())
                          ? " samples: the median could not come under)"
                          : " samples: each was over while the revision warms up)")
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
