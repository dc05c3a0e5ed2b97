package io.vtrack.agent.check;

import io.vertx.core.Future;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vtrack.agent.HttpAnswers;
import io.vtrack.agent.model.CheckSpec;
import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

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
   *     "recorded when 1a2b3c4 was verified"), or, without one, why there is none ("this is the
   *     last healthy commit"); null to say nothing
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

  /**
   * A sample is waited for until it decides the round against a limit this much above the current
   * one. The live sample taken after it moves the limit a little either way; counted at the bare
   * limit, the least rise took the verdict back, and the round took one sample more (on a busy
   * machine, often), or while warming up, could no longer stop early at all.
   */
  static final double DECIDING_HEADROOM = 1.1;

  private Future<CheckResult> run(boolean warmingUp) {
    long start = System.nanoTime();
    List<Double> times = new ArrayList<>();
    List<Double> live = new ArrayList<>();
    // A live instance that failed one sample is not asked again this round: a hung one would
    // otherwise add a timeout to every sample.
    boolean[] liveAnswers = {liveUrl != null};
    // The candidate's current sample: whether it was sent (one that then times out is unanswered)
    // and its head came; and the time of a sample that was counted without waiting for its answer.
    Asked asked = new Asked();
    Future<Void> chain = Future.succeededFuture();
    int n = spec.latency().samples();
    for (int i = 0; i < n; i++) {
      // Fail as soon as it is certain: once the median is over the limit even if every sample
      // still to come took no time at all, the rest cannot change the verdict; a sample that
      // would make it so is not waited for past the time that does. The live instance is still
      // asked after it: a live sample that raises the limit takes the certainty back, and the
      // round goes on with the time the candidate's sample had taken then (less than its own).
      chain =
          chain.compose(
              v ->
                  certainlyOver(times, live, n) || (warmingUp && slowSoFar(times, live))
                      ? Future.succeededFuture()
                      : sample(url, times, asked, decidingAfterMs(times, live, n, warmingUp))
                          .compose(
                              x ->
                                  !liveAnswers[0]
                                      ? Future.succeededFuture()
                                      : sample(liveUrl, live, new Asked(), -1)
                                          .onFailure(err -> liveAnswers[0] = false)
                                          .otherwiseEmpty()));
    }
    return chain
        .map(v -> judge(times, live, asked.notWaitedMs, start))
        .recover(
            err ->
                Future.succeededFuture(
                    result(
                            CheckStatus.Failing,
                            null,
                            // Its head came, and the answer did not end in time.
                            err instanceof TimeoutException && asked.head
                                ? "the answer did not end within " + spec.effectiveTimeout().text()
                                : HttpCheck.failed(err, spec),
                            start)
                        .as(Failure.ofRequest(err, asked.sent))));
  }

  /**
   * One request to {@code target}; its time goes into {@code times}.
   *
   * @param overAfterMs when not negative, the time after which this sample decides the round by
   *     being over the limit: still unanswered then, it is over whatever comes, so it is counted at
   *     the time it has taken and not waited for. The request itself is left to finish within its
   *     timeout: an app that finds its client gone logs a broken pipe, and a log check would take
   *     that error for the revision's own
   */
  private Future<Void> sample(String target, List<Double> times, Asked asked, double overAfterMs) {
    long t0 = System.nanoTime();
    long timeout = spec.effectiveTimeout().millis();
    asked.sent = false;
    asked.head = false;
    return client
        .request(
            new RequestOptions()
                .setMethod(HttpMethod.GET)
                .setAbsoluteURI(target)
                .setTimeout(timeout))
        .compose(
            req -> {
              asked.sent = true;
              // The whole answer within the timeout, not only each pause in it: an endpoint that
              // streams without end is unanswered then, and broken off. What it sends is not kept.
              Future<Void> answer =
                  HttpAnswers.within(
                      req.send()
                          .compose(
                              resp -> {
                                asked.head = true;
                                resp.handler(bytes -> {});
                                return resp.end();
                              }),
                      timeout,
                      req);
              if (overAfterMs < 0) {
                return answer;
              }
              // Its time counts from the sample's start, connecting included, as every sample's
              // does; the timer starts only once the request is on its way, so a candidate that
              // does not take connections yet is never counted as slow.
              long left = (long) Math.floor(overAfterMs - (System.nanoTime() - t0) / 1e6) + 1;
              return answer
                  .timeout(Math.max(1, left), TimeUnit.MILLISECONDS)
                  .recover(
                      err -> {
                        if (!(err instanceof TimeoutException) || answer.isComplete()) {
                          return Future.failedFuture(err);
                        }
                        asked.notWaitedMs = (System.nanoTime() - t0) / 1e6;
                        return Future.succeededFuture();
                      });
            })
        .compose(
            answered -> {
              times.add((System.nanoTime() - t0) / 1e6);
              return Future.succeededFuture();
            });
  }

  /**
   * Each of its samples may take the timeout, and with blue-green each is followed by one of the
   * live instance: a round gives the series that long, not one request's timeout.
   */
  @Override
  public long boundMillis() {
    return spec.latency().samples() * spec.effectiveTimeout().millis() * (liveUrl == null ? 1 : 2);
  }

  /**
   * How long the candidate's next sample may take before it decides the round: past that time the
   * median is over the limit whatever the samples after it take (or, warming up, the first samples
   * are all over); -1 when no time within the request's timeout would decide it. It decides against
   * a limit {@link #DECIDING_HEADROOM} times the current one.
   */
  double decidingAfterMs(List<Double> times, List<Double> live, int n, boolean warmingUp) {
    double limit = limitMs(reference(live)) * DECIDING_HEADROOM;
    double lo = limit;
    double hi = spec.effectiveTimeout().millis();
    if (Double.isInfinite(limit) || hi <= lo || !decides(times, n, warmingUp, limit, hi)) {
      return -1;
    }
    // The verdict only grows with the sample's time: the least time that decides, to 0.1 ms.
    while (hi - lo > 0.1) {
      double mid = (lo + hi) / 2;
      if (decides(times, n, warmingUp, limit, mid)) {
        hi = mid;
      } else {
        lo = mid;
      }
    }
    return hi;
  }

  /**
   * Whether a next sample of {@code ms} decides the round against {@code limit} (see {@link
   * #decidingAfterMs}).
   */
  private boolean decides(List<Double> times, int n, boolean warmingUp, double limit, double ms) {
    List<Double> with = new ArrayList<>(times);
    with.add(ms);
    return (warmingUp && allOver(with, limit)) || medianOfPadded(with, n) > limit;
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
    return medianOfPadded(times, n) > limit;
  }

  /** The median of {@code times} with the samples missing of {@code n} taken as no time at all. */
  private static double medianOfPadded(List<Double> times, int n) {
    List<Double> best = new ArrayList<>(times);
    while (best.size() < n) {
      best.add(0.0);
    }
    return percentile(best, 50);
  }

  /** Whether the first {@value #WARMING_SAMPLES} samples (or more) are all over the limit. */
  boolean slowSoFar(List<Double> times, List<Double> live) {
    return allOver(times, limitMs(reference(live)));
  }

  private boolean allOver(List<Double> times, double limit) {
    return times.size() >= WARMING_SAMPLES
        && times.size() < spec.latency().samples()
        && times.stream().allMatch(t -> t > limit);
  }

  private CheckResult judge(List<Double> times, List<Double> live, Double notWaitedMs, long start) {
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
          "median "
              + value
              + p95
              + (!verifying
                  ? ""
                  : baselineMs == null && baselineOrigin != null
                      ? " (no baseline: " + baselineOrigin + ")"
                      : " (no baseline yet)"),
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
              + stopped(times, live, notWaitedMs),
          start);
    }
    return result(CheckStatus.Passing, value, "median " + value + p95 + vs, start);
  }

  /**
   * Why a failing round took fewer samples than it asks, and whether a sample was counted without
   * waiting for its answer, in brackets; nothing when it took them all and waited for each.
   */
  private String stopped(List<Double> times, List<Double> live, Double notWaitedMs) {
    int n = spec.latency().samples();
    List<String> why = new ArrayList<>();
    if (times.size() < n) {
      why.add(
          "stopped after "
              + times.size()
              + " of "
              + n
              + (certainlyOver(times, live, n)
                  ? " samples: the median could not come under"
                  : " samples: each was over while the revision warms up"));
    }
    if (notWaitedMs != null) {
      why.add(
          String.format(
              Locale.ROOT,
              "a sample still unanswered at %.1fms was counted then, not waited for",
              notWaitedMs));
    }
    return why.isEmpty() ? "" : " (" + String.join("; ", why) + ")";
  }

  /** One request's fate, for the round's verdict. */
  private static final class Asked {
    boolean sent;
    boolean head;
    Double notWaitedMs;
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
