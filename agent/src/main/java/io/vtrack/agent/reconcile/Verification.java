package io.vtrack.agent.reconcile;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vtrack.agent.check.CheckResult;
import io.vtrack.agent.check.CheckRound;
import io.vtrack.agent.check.CheckStatus;
import io.vtrack.agent.check.Failure;
import io.vtrack.agent.check.FileGrowth;
import io.vtrack.agent.check.HealthCheck;
import io.vtrack.agent.model.HealthPolicy;
import io.vtrack.agent.model.Reason;
import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Proves a revision healthy (DESIGN.md §2, check semantics), failing as soon as a failure is
 * certain. Startup ends at the first round where every check passes; then every round must pass for
 * {@code window} (any failing round fails it; the window never restarts). During startup:
 *
 * <ul>
 *   <li>a service that exits fails at once ({@link Reason#ServiceExited});
 *   <li>a check that cannot pass any more (a log count over its max) fails at once ({@link
 *       Reason#StartupFailed}): a log file is counted again the moment it is written, not at the
 *       next round (also in the window);
 *   <li>{@code startupFailureThreshold} rounds in a row with a wrong answer fail ({@link
 *       Reason#ChecksFailed}), naming the checks and what they answered;
 *   <li>only rounds that are merely not ready wait, at most {@code startupTimeout} ({@link
 *       Reason#StartupTimeout}).
 * </ul>
 *
 * The first round waits until the addresses the checks ask accept connections (at most one {@code
 * interval}): a revision that is still binding its port is not asked yet.
 *
 * <p>A {@link Mode#KNOWN_GOOD known-good} revision (a rollback target, verified before) needs one
 * passing round within {@code startupTimeout}. Runs on the event loop with timers; checks do their
 * own I/O off it.
 */
public final class Verification {
  /** What is being proved. */
  public enum Mode {
    /** A new revision: startup, fail-fast rules, then the window. */
    VERIFY,
    /** The last healthy revision coming back: one passing round. */
    KNOWN_GOOD
  }

  /**
   * The outcome; {@code reason} and {@code message} say which rule ended verification and why.
   *
   * @param rule the rule that ended it, in words ("2 rounds in a row answered wrong", ...)
   */
  public record Outcome(boolean healthy, Reason reason, String message, int rounds, String rule) {}

  /** A finished round, classified, handed to the caller for recording. */
  public record Round(int number, String phase, CheckRound result) {}

  private final Vertx vertx;
  private final List<HealthCheck> checks;
  private final HealthPolicy policy;
  private final Mode mode;
  private final Supplier<List<String>> exitedServices;
  private final Function<Round, Future<Void>> onRound;
  private final Set<String> passedOnce = new HashSet<>();

  /** The address each check that asks one asks, by check name. */
  private final Map<String, InetSocketAddress> addresses = new HashMap<>();

  private final Promise<Outcome> done = Promise.promise();
  private final FileGrowth files;
  private boolean roundRunning;
  private int roundsDone;
  private long nextRound = -1;
  private int wrongInARow;
  private long startupDeadline;
  private long windowEnd;
  private boolean inWindow;

  public Verification(
      Vertx vertx,
      List<HealthCheck> checks,
      HealthPolicy policy,
      Mode mode,
      Supplier<List<String>> exitedServices,
      Function<Round, Future<Void>> onRound,
      FileGrowth files) {
    this.vertx = vertx;
    this.files = files;
    this.checks = checks;
    this.policy = policy;
    this.mode = mode;
    this.exitedServices = exitedServices;
    this.onRound = onRound;
    checks.forEach(c -> c.asks().ifPresent(a -> addresses.put(c.spec().name(), a)));
  }

  /** Runs it; call on the context that is to run its rounds. */
  public Future<Outcome> run() {
    startupDeadline = System.nanoTime() + policy.startupTimeout().millis() * 1_000_000;
    if (mode == Mode.VERIFY) {
      WriteWatch writes =
          new WriteWatch(
              vertx,
              vertx.getOrCreateContext(),
              files,
              checks,
              () -> done.future().isComplete(),
              this::counted);
      writes.start();
      done.future().onComplete(x -> writes.stop());
    }
    listening().onComplete(v -> round(1));
    return done.future();
  }

  /**
   * After the written logs were counted: a count over its max cannot fall, so the next round starts
   * at once and fails on it, instead of after the rest of the interval. Whether one is over.
   */
  private boolean counted() {
    if (!cannotPass()) {
      return false;
    }
    if (!roundRunning && nextRound != -1 && vertx.cancelTimer(nextRound)) {
      nextRound = -1;
      round(roundsDone + 1);
    } // else the round that runs or comes next sees it (see round)
    return true;
  }

  /** Whether the check named {@code name} has failed for good. */
  private boolean failedForGood(String name) {
    return checks.stream().anyMatch(c -> c.spec().name().equals(name) && c.failedForGood());
  }

  private boolean cannotPass() {
    return mode == Mode.VERIFY && checks.stream().anyMatch(HealthCheck::failedForGood);
  }

  /**
   * Something about the services changed (an exit, an engine event): a service that exited ends
   * verification now, in the middle of a round or of the wait for the next, not when the next round
   * starts. Call on the context that runs this verification.
   */
  public void servicesChanged() {
    if (done.future().isComplete()) {
      return;
    }
    List<String> exited = exitedServices.get();
    if (!exited.isEmpty()) {
      vertx.cancelTimer(nextRound);
      done.tryComplete(exited(exited, roundsDone));
    }
  }

  /**
   * Ends the verification of a new revision now, failed ({@link Reason#ManualRollback}): a rollback
   * was asked for while it ran. A known-good revision coming back is not stopped. Whether it ended
   * it; call on the context that runs this verification.
   */
  public boolean stop(String message) {
    if (mode != Mode.VERIFY || done.future().isComplete()) {
      return false;
    }
    vertx.cancelTimer(nextRound);
    return done.tryComplete(
        new Outcome(false, Reason.ManualRollback, message, roundsDone, "a rollback was asked for"));
  }

  /**
   * Completes when every address the checks ask (http checks' host and port) accepts a TCP
   * connection, a service exits, or one {@code interval} has passed, whichever comes first: the
   * first round asks a revision that can answer, instead of finding it not ready and waiting a
   * whole interval for the next. Never later than the first round would have run without it plus
   * one interval; a revision that never listens is judged by its rounds as before.
   */
  private Future<Void> listening() {
    Set<InetSocketAddress> asked = new HashSet<>();
    checks.forEach(c -> c.asks().ifPresent(asked::add));
    return ListeningWait.until(
        vertx,
        asked,
        System.nanoTime() + policy.interval().millis() * 1_000_000,
        () -> !exitedServices.get().isEmpty());
  }

  private void round(int n) {
    nextRound = -1;
    if (done.future().isComplete()) {
      return; // a service exited meanwhile
    }
    List<String> exited = exitedServices.get();
    if (!exited.isEmpty()) {
      done.tryComplete(exited(exited, n - 1));
      return;
    }
    // A limit that cannot count in this round lets latency stop at its first slow samples.
    boolean warmingUp = mode == Mode.VERIFY && !RoundJudgement.limitsCount(checks, passedOnce);
    roundRunning = true;
    CheckRound.run(vertx, checks, warmingUp, r -> decides(r, warmingUp))
        .onComplete(x -> roundRunning = false)
        .map(this::classify)
        .compose(
            j -> {
              if (done.future().isComplete()) {
                // Cut short by an exit: what it measured of a stopping revision is not recorded.
                return Future.succeededFuture(j);
              }
              roundsDone = n;
              CheckRound r = new CheckRound(j.results(), j.status());
              return onRound.apply(new Round(n, inWindow ? "window" : "startup", r)).map(j);
            })
        .onFailure(
            err ->
                done.tryComplete(
                    new Outcome(
                        false, Reason.WindowFailed, "recording failed: " + err, n, "recording")))
        .onSuccess(
            j -> {
              if (done.future().isComplete()) {
                return;
              }
              // A log counted over its max after this round read it: the next round, at once,
              // fails on it and names it (this one is not judged).
              boolean countedSince =
                  cannotPass()
                      && j.results().stream()
                          .noneMatch(r -> r.failing() && failedForGood(r.name()));
              String host = hostTrouble(j.results());
              if (host != null) {
                // Nothing was learnt about the revision: verified again once the host is back,
                // never failed for it (DESIGN.md §2: the host is never held against the commit).
                done.tryFail(
                    new io.vtrack.agent.runtime.Runtimes.RuntimeUnavailableException(
                        "the checks could not run: " + host));
                return;
              }
              Outcome out = countedSince ? null : judge(j, n);
              if (out != null) {
                done.tryComplete(out);
              } else {
                long wait = cannotPass() ? 1 : Math.max(1, policy.interval().millis());
                nextRound = vertx.setTimer(wait, id -> round(n + 1));
              }
            });
  }

  /**
   * Whether {@code r} alone makes this round end verification, so that the checks still running are
   * not waited for: in the window, any failure; during startup, a wrong answer that is wrong
   * whatever the others say and is the {@code startupFailureThreshold}-th in a row, or a log count
   * that cannot fall. A command's exit and a limit that cannot count yet depend on the other
   * results, so they never decide alone; a known-good revision is not failed by a round.
   */
  private boolean decides(CheckResult r, boolean warmingUp) {
    if (r.passing() || mode != Mode.VERIFY) {
      return false;
    }
    if (inWindow) {
      return true;
    }
    boolean wrongAlone =
        r.failure() == Failure.Wrong
            && !"command".equals(r.kind())
            && !(warmingUp && HealthCheck.warming(r.kind()));
    return failedForGood(r.name())
        || (wrongAlone && wrongInARow + 1 >= policy.startupFailureThreshold());
  }

  /** The checks of a round that the host's trouble kept from running, as a message, or null. */
  private static String hostTrouble(List<CheckResult> results) {
    List<String> out =
        results.stream()
            .filter(r -> !r.passing() && r.failure() == Failure.HostUnavailable)
            .map(r -> r.name() + ": " + r.message())
            .toList();
    return out.isEmpty() ? null : String.join("; ", out);
  }

  /** A round after the fail-fast classification, with its status. */
  private record Judged(List<CheckResult> results, CheckStatus status, RoundJudgement judgement) {
    boolean passing() {
      return status == CheckStatus.Passing;
    }
  }

  private Judged classify(CheckRound r) {
    RoundJudgement j = RoundJudgement.of(r.results(), passedOnce, addresses);
    for (var c : r.results()) {
      if (c.passing()) {
        passedOnce.add(c.name());
      }
    }
    return new Judged(j.results(), r.status(), j);
  }

  /** The outcome once this round decides it, else null (another round follows). */
  private Outcome judge(Judged j, int n) {
    List<String> exitedNow = exitedServices.get();
    if (!exitedNow.isEmpty()) {
      return exited(exitedNow, n);
    }
    String failures = new CheckRound(j.results(), j.status()).failures();
    long now = System.nanoTime();
    if (inWindow) {
      if (!j.passing()) {
        return new Outcome(
            false,
            Reason.WindowFailed,
            "a round failed during the " + policy.window().text() + " window: " + failures,
            n,
            "every round must pass for the window");
      }
      if (now >= windowEnd) {
        return new Outcome(
            true,
            Reason.Verified,
            "checks passed for the whole " + policy.window().text() + " window",
            n,
            "every round passed for the window");
      }
      return null;
    }
    if (j.passing()) {
      if (mode == Mode.KNOWN_GOOD) {
        return new Outcome(
            true,
            Reason.Verified,
            "the last healthy revision passed a full round",
            n,
            "the last healthy revision passed a full round");
      }
      if (policy.window().millis() == 0) {
        return new Outcome(true, Reason.Verified, "checks passed", n, "every check passed");
      }
      inWindow = true;
      windowEnd = now + policy.window().millis() * 1_000_000;
      return null;
    }
    if (mode == Mode.VERIFY) {
      if (checks.stream().anyMatch(HealthCheck::failedForGood)) {
        return new Outcome(
            false,
            Reason.StartupFailed,
            "checks cannot pass any more: " + failures,
            n,
            "a log count during verification is over its max and cannot fall");
      }
      wrongInARow = j.judgement().wrong() ? wrongInARow + 1 : 0;
      int threshold = policy.startupFailureThreshold();
      if (wrongInARow >= threshold) {
        String rule =
            threshold
                + (threshold == 1 ? " round" : " rounds in a row")
                + " answered wrong (startupFailureThreshold "
                + threshold
                + ")";
        return new Outcome(
            false, Reason.ChecksFailed, rule + ": " + j.judgement().wrongAnswers(), n, rule);
      }
    }
    if (now >= startupDeadline) {
      String rule =
          mode == Mode.KNOWN_GOOD
              ? "the last healthy revision did not pass a round within startupTimeout"
              : "no passing round within startupTimeout";
      return new Outcome(
          false,
          Reason.StartupTimeout,
          "checks did not pass within startupTimeout "
              + policy.startupTimeout().text()
              + ": "
              + failures,
          n,
          rule);
    }
    return null;
  }

  private static Outcome exited(List<String> exited, int rounds) {
    return new Outcome(
        false, Reason.ServiceExited, String.join("; ", exited), rounds, "a service exited");
  }
}
