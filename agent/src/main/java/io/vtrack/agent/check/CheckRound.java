package io.vtrack.agent.check;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Predicate;

/**
 * One round: every check concurrently, each bounded by its own timeout; the round is the worst. A
 * round may end before its slowest checks when a result decides it (verification: the failure is
 * certain).
 */
public record CheckRound(List<CheckResult> results, CheckStatus status) {
  public static Future<CheckRound> run(Vertx vertx, List<HealthCheck> checks) {
    return run(vertx, checks, false, r -> false);
  }

  /**
   * @param warmingUp whether latency and memory limits cannot count in this round: those checks run
   *     {@link HealthCheck#runWarmingUp()}
   * @param decides whether a result decides the round on its own: the round then waits at most
   *     {@link #DECIDED_GRACE_MILLIS} more for the other checks, so that what it reports names
   *     every answer that came quickly, and the checks still running after that are {@link
   *     CheckStatus#Unknown}, "not awaited"
   */
  public static Future<CheckRound> run(
      Vertx vertx, List<HealthCheck> checks, boolean warmingUp, Predicate<CheckResult> decides) {
    if (checks.isEmpty()) {
      return Future.succeededFuture(new CheckRound(List.of(), CheckStatus.Passing));
    }
    long start = System.nanoTime();
    AtomicReferenceArray<CheckResult> results = new AtomicReferenceArray<>(checks.size());
    AtomicInteger left = new AtomicInteger(checks.size());
    Promise<CheckRound> round = Promise.promise();
    AtomicReference<String> decidedBy = new AtomicReference<>();
    for (int i = 0; i < checks.size(); i++) {
      int index = i;
      HealthCheck c = checks.get(i);
      bounded(vertx, c, warmingUp && HealthCheck.warming(c.kind()))
          .onSuccess(
              r -> {
                results.set(index, r);
                if (left.decrementAndGet() == 0) {
                  round.tryComplete(of(checks, results, null, start));
                } else if (decides.test(r) && decidedBy.compareAndSet(null, r.name())) {
                  long grace =
                      vertx.setTimer(
                          DECIDED_GRACE_MILLIS,
                          id -> round.tryComplete(of(checks, results, r.name(), start)));
                  round.future().onComplete(x -> vertx.cancelTimer(grace));
                }
              });
    }
    return round.future();
  }

  /**
   * How long a round whose outcome is certain still waits for its other checks: enough for the
   * quick ones (an http answer, a query) to be named in the failure, far less than a smoke test or
   * a latency sample series.
   */
  public static final long DECIDED_GRACE_MILLIS = 200;

  private static CheckRound of(
      List<HealthCheck> checks,
      AtomicReferenceArray<CheckResult> results,
      String decidedBy,
      long start) {
    List<CheckResult> out = new ArrayList<>();
    CheckStatus worst = CheckStatus.Passing;
    for (int i = 0; i < checks.size(); i++) {
      CheckResult r = results.get(i);
      if (r == null) {
        HealthCheck c = checks.get(i);
        r =
            new CheckResult(
                c.spec().name(),
                c.kind(),
                CheckStatus.Unknown,
                null,
                "not awaited: " + decidedBy + " decided the round",
                (System.nanoTime() - start) / 1_000_000,
                Instant.now().toString(),
                null);
      }
      out.add(r);
      worst = CheckStatus.worst(worst, r.status());
    }
    return new CheckRound(List.copyOf(out), worst);
  }

  private static Future<CheckResult> bounded(Vertx vertx, HealthCheck c, boolean warmingUp) {
    Promise<CheckResult> p = Promise.promise();
    long timeout = c.boundMillis();
    long start = System.nanoTime();
    // The check's own I/O keeps to this; the guard catches anything that ignores it.
    long timer =
        vertx.setTimer(
            timeout + 1000,
            id ->
                p.tryComplete(
                    new CheckResult(
                        c.spec().name(),
                        c.kind(),
                        CheckStatus.Failing,
                        null,
                        "timed out after "
                            + (timeout == c.spec().effectiveTimeout().millis()
                                ? c.spec().effectiveTimeout().text()
                                : timeout + "ms"),
                        (System.nanoTime() - start) / 1_000_000,
                        Instant.now().toString(),
                        Failure.NotReady)));
    (warmingUp ? c.runWarmingUp() : c.run())
        .onComplete(
            ar -> {
              vertx.cancelTimer(timer);
              if (ar.succeeded()) {
                p.tryComplete(ar.result());
              } else {
                p.tryComplete(
                    new CheckResult(
                        c.spec().name(),
                        c.kind(),
                        CheckStatus.Failing,
                        null,
                        "check error: " + ar.cause(),
                        (System.nanoTime() - start) / 1_000_000,
                        Instant.now().toString(),
                        Failure.NotReady));
              }
            });
    return p.future();
  }

  public boolean passing() {
    return status == CheckStatus.Passing;
  }

  /** The failing checks, for messages: "backend: status 500, expected [200]". */
  public String failures() {
    StringBuilder sb = new StringBuilder();
    for (CheckResult r : results) {
      if (r.failing()) {
        if (sb.length() > 0) {
          sb.append("; ");
        }
        sb.append(r.name()).append(": ").append(r.message());
      }
    }
    return sb.toString();
  }
}
