package io.vtrack.agent.check;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/** One round: every check concurrently, each bounded by its own timeout; the round is the worst. */
public record CheckRound(List<CheckResult> results, CheckStatus status) {
  public static Future<CheckRound> run(Vertx vertx, List<HealthCheck> checks) {
    return run(vertx, checks, false);
  }

  /**
   * @param warmingUp whether latency and memory limits cannot count as wrong in this round: those
   *     checks run {@link HealthCheck#runWarmingUp()}
   */
  public static Future<CheckRound> run(Vertx vertx, List<HealthCheck> checks, boolean warmingUp) {
    List<Future<CheckResult>> futures = new ArrayList<>();
    for (HealthCheck c : checks) {
      futures.add(bounded(vertx, c, warmingUp && HealthCheck.warming(c.spec().kind())));
    }
    return Future.all(futures)
        .map(
            all -> {
              List<CheckResult> results = new ArrayList<>();
              CheckStatus worst = CheckStatus.Passing;
              for (int i = 0; i < futures.size(); i++) {
                CheckResult r = all.resultAt(i);
                results.add(r);
                worst = CheckStatus.worst(worst, r.status());
              }
              return new CheckRound(List.copyOf(results), worst);
            });
  }

  private static Future<CheckResult> bounded(Vertx vertx, HealthCheck c, boolean warmingUp) {
    Promise<CheckResult> p = Promise.promise();
    long timeout = c.spec().effectiveTimeout().millis();
    long start = System.nanoTime();
    // The check's own I/O has the same timeout; this guard catches anything that ignores it.
    long timer =
        vertx.setTimer(
            timeout + 1000,
            id ->
                p.tryComplete(
                    new CheckResult(
                        c.spec().name(),
                        c.spec().kind(),
                        CheckStatus.Failing,
                        null,
                        "timed out after " + c.spec().effectiveTimeout().text(),
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
                        c.spec().kind(),
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
      if (!r.passing()) {
        if (sb.length() > 0) {
          sb.append("; ");
        }
        sb.append(r.name()).append(": ").append(r.message());
      }
    }
    return sb.toString();
  }
}
