package io.vtrack.agent.check;

import io.vertx.core.Future;
import io.vertx.core.http.HttpClient;
import io.vtrack.agent.model.CheckSpec;
import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;

/**
 * {@code samples} sequential requests; the median (and p95 from 20 samples) is compared with the
 * baseline the last healthy commit recorded. It fails only above both {@code maxIncrease} and
 * {@code minDelta}, so a few milliseconds of noise on a fast endpoint are not a regression. A round
 * ends as soon as its verdict is certain: a sample still unanswered once it is over the limit is
 * counted then ({@link LatencySamples}), and no sample is taken once the median cannot come under.
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
   * A candidate's sample still unanswered this many times the current limit after it was sent is
   * over the limit whatever it takes: it is counted at the time it has taken then and the next
   * sample goes out. The live sample taken after it moves the limit a little either way; counted at
   * the bare limit, the least rise took the verdict back.
   */
  static final double DECIDING_HEADROOM = 1.1;

  private Future<CheckResult> run(boolean warmingUp) {
    long start = System.nanoTime();
    int n = spec.latency().samples();
    LatencySamples round =
        new LatencySamples(client, url, liveUrl, spec.effectiveTimeout().millis());
    // Fail as soon as it is certain: once the median is over the limit even if every sample still
    // to come took no time at all, the rest cannot change the verdict. A sample over the limit is
    // not waited for past the time that makes it so; the live instance is still asked after each:
    // a live sample that raises the limit takes the certainty back, and the round goes on.
    BooleanSupplier decided =
        () ->
            certainlyOver(round.times, round.live, n)
                || (warmingUp && slowSoFar(round.times, round.live));
    return round
        .take(n, decided, () -> cutAfterMs(round.live))
        // A verdict of "over" made with samples counted before they ended stands whatever they
        // take; any other waits for their own times.
        .compose(v -> decided.getAsBoolean() ? Future.succeededFuture() : round.ended())
        .map(v -> judge(round, start))
        .recover(
            failure -> {
              // A sample's failure carries its request's fate; any other comes before one was sent.
              LatencySamples.Failed f =
                  failure instanceof LatencySamples.Failed sf
                      ? sf
                      : new LatencySamples.Failed(failure, false, false);
              Throwable err = f.getCause();
              return Future.succeededFuture(
                  result(
                          CheckStatus.Failing,
                          null,
                          // Its head came, and the answer did not end in time.
                          err instanceof TimeoutException && f.head
                              ? "the answer did not end within " + spec.effectiveTimeout().text()
                              : HttpCheck.failed(err, spec),
                          start)
                      .as(Failure.ofRequest(err, f.sent)));
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
   * How long a candidate's sample may take before it is over the limit whatever it takes: {@link
   * #DECIDING_HEADROOM} times the current limit; -1 when no limit applies or the timeout comes
   * first.
   */
  double cutAfterMs(List<Double> live) {
    double cut = limitMs(reference(live)) * DECIDING_HEADROOM;
    return Double.isInfinite(cut) || cut >= spec.effectiveTimeout().millis() ? -1 : cut;
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

  /**
   * Whether the median of {@code n} samples is over the limit whatever the missing ones are (with
   * none missing: whether it is over).
   */
  boolean certainlyOver(List<Double> times, List<Double> live, int n) {
    double limit = limitMs(reference(live));
    if (Double.isInfinite(limit) || times.isEmpty()) {
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

  private CheckResult judge(LatencySamples round, long start) {
    List<Double> times = round.times;
    List<Double> live = round.live;
    // Samples counted before their answer ended, and not ended yet: the median is at least this.
    long notWaited = round.notWaited();
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
          // Samples counted before their answer ended count less than they will take.
          (notWaited > 0 ? "median at least " : "median ")
              + value
              + p95
              + vs
              + ": above +"
              + spec.latency().maxIncrease().text()
              + " and +"
              + spec.latency().minDelta().text()
              + stopped(round, notWaited),
          start);
    }
    return result(CheckStatus.Passing, value, "median " + value + p95 + vs, start);
  }

  /**
   * Why a failing round took fewer samples than it asks, and how many were counted without waiting
   * for their answer, in brackets; nothing when it took them all and waited for each.
   */
  private String stopped(LatencySamples round, long notWaited) {
    int n = spec.latency().samples();
    List<String> why = new ArrayList<>();
    if (round.times.size() < n) {
      why.add(
          "stopped after "
              + round.times.size()
              + " of "
              + n
              + (certainlyOver(round.times, round.live, n)
                  ? " samples: the median could not come under"
                  : " samples: each was over while the revision warms up"));
    }
    if (notWaited > 0) {
      double at = round.notWaitedAtMs();
      why.add(
          notWaited == 1
              ? String.format(
                  Locale.ROOT,
                  "a sample still unanswered at %.1fms was counted then, not waited for",
                  at)
              : String.format(
                  Locale.ROOT,
                  "%d samples still unanswered at %.1fms or later were counted then, not waited"
                      + " for",
                  notWaited,
                  at));
    }
    return why.isEmpty() ? "" : " (" + String.join("; ", why) + ")";
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
