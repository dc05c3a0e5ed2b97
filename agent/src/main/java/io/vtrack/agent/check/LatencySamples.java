package io.vtrack.agent.check;

import io.vertx.core.Future;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vtrack.agent.HttpAnswers;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import java.util.function.DoubleSupplier;

/**
 * One round of a {@link LatencyCheck}'s samples, on the check's context: sequential requests to the
 * candidate, each followed by one to the live instance when there is one (blue-green). A
 * candidate's sample still unanswered at the time that puts it over the limit is counted then and
 * the next goes out; its own time replaces that count once it comes.
 */
final class LatencySamples {
  private final HttpClient client;
  private final String url;
  private final String liveUrl;
  private final long timeoutMillis;

  /**
   * The candidate's times, in the order sent; one counted before its answer ended is less than its
   * own until that comes.
   */
  final List<Double> times = new ArrayList<>();

  /** The live instance's times. */
  final List<Double> live = new ArrayList<>();

  /** The answers of the samples counted before they ended, each setting its own time. */
  private final List<Future<Double>> unfinished = new ArrayList<>();

  /** The times those samples were counted at. */
  private final List<Double> notWaitedMs = new ArrayList<>();

  /**
   * A live instance that failed one sample is not asked again this round: a hung one would
   * otherwise add a timeout to every sample.
   */
  private boolean liveAnswers;

  /**
   * @param liveUrl the same URL on the live instance, sampled after each of the candidate's; null
   *     without one
   * @param timeoutMillis each request's, for its whole answer
   */
  LatencySamples(HttpClient client, String url, String liveUrl, long timeoutMillis) {
    this.client = client;
    this.url = url;
    this.liveUrl = liveUrl;
    this.timeoutMillis = timeoutMillis;
    this.liveAnswers = liveUrl != null;
  }

  /**
   * Takes up to {@code n} samples, stopping before the next once {@code decided} says the rest
   * cannot change the verdict; fails with {@link Failed} when a candidate's sample does.
   *
   * @param cutAfterMs how long the candidate's next sample may take before it is over the limit
   *     whatever it takes, -1 when nothing is
   */
  Future<Void> take(int n, BooleanSupplier decided, DoubleSupplier cutAfterMs) {
    Future<Void> chain = Future.succeededFuture();
    for (int i = 0; i < n; i++) {
      chain =
          chain.compose(
              v ->
                  decided.getAsBoolean()
                      ? Future.succeededFuture()
                      : candidate(cutAfterMs.getAsDouble()).compose(x -> liveSample()));
    }
    return chain;
  }

  /** Completes once every sample counted before it ended has its own time. */
  Future<Void> ended() {
    return Future.all(unfinished).mapEmpty();
  }

  /** How many samples were counted before their answer ended, and have not ended yet. */
  long notWaited() {
    return unfinished.stream().filter(f -> !f.isComplete()).count();
  }

  /** The earliest time a sample was counted at before its answer ended; 0 when none was. */
  double notWaitedAtMs() {
    return notWaitedMs.stream().mapToDouble(Double::doubleValue).min().orElse(0);
  }

  private Future<Void> liveSample() {
    if (!liveAnswers) {
      return Future.succeededFuture();
    }
    return timed(liveUrl, new Asked(), (t0, answered) -> answered)
        .onSuccess(live::add)
        .onFailure(err -> liveAnswers = false)
        .<Void>mapEmpty()
        .otherwiseEmpty();
  }

  /**
   * One sample of the candidate, its time added to {@link #times}. Still unanswered {@code cutMs}
   * after it was sent, it is over the limit whatever it takes: it is counted then, at the time it
   * has taken (less than its own, so a verdict of "over" it makes stays true), and its own time
   * replaces that once it comes. The request itself is left to finish within its timeout: an app
   * that finds its client gone logs a broken pipe, and a log check would take that error for the
   * revision's own.
   */
  private Future<Void> candidate(double cutMs) {
    Asked asked = new Asked();
    return timed(
            url,
            asked,
            (t0, answered) -> {
              if (cutMs < 0) {
                return answered;
              }
              // Its time counts from the sample's start, connecting included, as every sample's
              // does; the timer starts only once the request is on its way, so a candidate that
              // does not take connections yet is never counted as slow.
              long left = (long) Math.floor(cutMs - sinceMs(t0)) + 1;
              return answered
                  .timeout(Math.max(1, left), TimeUnit.MILLISECONDS)
                  .recover(
                      err -> {
                        if (!(err instanceof TimeoutException) || answered.isComplete()) {
                          return answered;
                        }
                        int at = times.size();
                        double counted = sinceMs(t0);
                        notWaitedMs.add(counted);
                        unfinished.add(
                            answered
                                .andThen(
                                    ar -> {
                                      if (ar.succeeded()) {
                                        times.set(at, ar.result());
                                      }
                                    })
                                .recover(e -> Future.failedFuture(new Failed(e, asked))));
                        return Future.succeededFuture(counted);
                      });
            })
        .onSuccess(times::add)
        .recover(err -> Future.failedFuture(new Failed(err, asked)))
        .mapEmpty();
  }

  /** What a sample's answer, timed from {@code t0}, becomes once the request was sent. */
  @FunctionalInterface
  private interface OnSent {
    Future<Double> apply(long t0, Future<Double> answered);
  }

  /** One request to {@code target}: the time from its start to the end of its answer, in ms. */
  private Future<Double> timed(String target, Asked asked, OnSent onSent) {
    long t0 = System.nanoTime();
    return client
        .request(
            new RequestOptions()
                .setMethod(HttpMethod.GET)
                .setAbsoluteURI(target)
                .setTimeout(timeoutMillis))
        .compose(
            req -> {
              asked.sent = true;
              // The whole answer within the timeout, not only each pause in it: an endpoint that
              // streams without end is unanswered then, and broken off. What it sends is not kept.
              Future<Double> answered =
                  HttpAnswers.within(
                          req.send()
                              .compose(
                                  resp -> {
                                    asked.head = true;
                                    resp.handler(bytes -> {});
                                    return resp.end();
                                  }),
                          timeoutMillis,
                          req)
                      .map(v -> sinceMs(t0));
              return onSent.apply(t0, answered);
            });
  }

  private static double sinceMs(long t0) {
    return (System.nanoTime() - t0) / 1e6;
  }

  /** One request's fate, for the round's verdict. */
  private static final class Asked {
    boolean sent;
    boolean head;
  }

  /**
   * A candidate's sample that failed, with its request's fate: whether it was sent (one that then
   * timed out is unanswered) and whether its head came.
   */
  static final class Failed extends Exception {
    final boolean sent;
    final boolean head;

    Failed(Throwable cause, boolean sent, boolean head) {
      super(cause.getMessage(), cause, false, false);
      this.sent = sent;
      this.head = head;
    }

    private Failed(Throwable cause, Asked asked) {
      this(cause, asked.sent, asked.head);
    }
  }
}
