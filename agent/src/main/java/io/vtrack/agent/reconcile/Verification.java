package io.vtrack.agent.reconcile;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vtrack.agent.check.CheckRound;
import io.vtrack.agent.check.HealthCheck;
import io.vtrack.agent.model.HealthPolicy;
import java.util.List;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Proves a revision healthy (DESIGN.md §2, check semantics): rounds every {@code interval} until
 * one passes (at most {@code startupTimeout}), then every round must pass for {@code window}; any
 * failing round in the window fails it, and the window never restarts. A service that exits fails
 * it at once, and so does a check that cannot pass any more (errors logged since the switch). Runs
 * on the event loop with timers; checks do their own I/O off it.
 */
public final class Verification {
  /** The outcome; {@code reason} and {@code message} say why it failed. */
  public record Outcome(boolean healthy, Reason reason, String message, int rounds) {}

  private final Vertx vertx;
  private final List<HealthCheck> checks;
  private final HealthPolicy policy;
  private final Supplier<List<String>> exitedServices;
  private final Function<Round, Future<Void>> onRound;

  /** A finished round, handed to the caller for recording. */
  public record Round(int number, String phase, CheckRound result) {}

  public Verification(
      Vertx vertx,
      List<HealthCheck> checks,
      HealthPolicy policy,
      Supplier<List<String>> exitedServices,
      Function<Round, Future<Void>> onRound) {
    this.vertx = vertx;
    this.checks = checks;
    this.policy = policy;
    this.exitedServices = exitedServices;
    this.onRound = onRound;
  }

  public Future<Outcome> run() {
    Promise<Outcome> done = Promise.promise();
    long startupDeadline = System.nanoTime() + policy.startupTimeout().millis() * 1_000_000;
    round(done, 1, false, startupDeadline, 0);
    return done.future();
  }

  private void round(
      Promise<Outcome> done, int n, boolean inWindow, long startupDeadline, long windowEnd) {
    List<String> exited = exitedServices.get();
    if (!exited.isEmpty()) {
      done.tryComplete(new Outcome(false, Reason.ServiceExited, String.join("; ", exited), n - 1));
      return;
    }
    CheckRound.run(vertx, checks)
        .compose(r -> onRound.apply(new Round(n, inWindow ? "window" : "startup", r)).map(r))
        .onFailure(
            err ->
                done.tryComplete(
                    new Outcome(false, Reason.WindowFailed, "recording failed: " + err, n)))
        .onSuccess(
            r -> {
              List<String> exitedNow = exitedServices.get();
              if (!exitedNow.isEmpty()) {
                done.tryComplete(
                    new Outcome(false, Reason.ServiceExited, String.join("; ", exitedNow), n));
                return;
              }
              long now = System.nanoTime();
              if (!inWindow) {
                if (r.passing()) {
                  long end = now + policy.window().millis() * 1_000_000;
                  if (policy.window().millis() == 0) {
                    done.tryComplete(new Outcome(true, Reason.Verified, "checks passed", n));
                    return;
                  }
                  next(done, n + 1, true, startupDeadline, end);
                } else if (checks.stream().anyMatch(HealthCheck::failedForGood)) {
                  done.tryComplete(
                      new Outcome(
                          false,
                          Reason.StartupFailed,
                          "checks cannot pass within startupTimeout "
                              + policy.startupTimeout().text()
                              + ": "
                              + r.failures(),
                          n));
                } else if (now >= startupDeadline) {
                  done.tryComplete(
                      new Outcome(
                          false,
                          Reason.StartupTimeout,
                          "checks did not pass within startupTimeout "
                              + policy.startupTimeout().text()
                              + ": "
                              + r.failures(),
                          n));
                } else {
                  next(done, n + 1, false, startupDeadline, 0);
                }
                return;
              }
              if (!r.passing()) {
                done.tryComplete(
                    new Outcome(
                        false,
                        Reason.WindowFailed,
                        "a round failed during the "
                            + policy.window().text()
                            + " window: "
                            + r.failures(),
                        n));
              } else if (now >= windowEnd) {
                done.tryComplete(
                    new Outcome(
                        true,
                        Reason.Verified,
                        "checks passed for the whole " + policy.window().text() + " window",
                        n));
              } else {
                next(done, n + 1, true, startupDeadline, windowEnd);
              }
            });
  }

  private void next(
      Promise<Outcome> done, int n, boolean inWindow, long startupDeadline, long windowEnd) {
    vertx.setTimer(
        Math.max(1, policy.interval().millis()),
        id -> round(done, n, inWindow, startupDeadline, windowEnd));
  }
}
