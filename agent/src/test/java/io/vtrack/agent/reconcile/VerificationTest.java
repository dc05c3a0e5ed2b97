package io.vtrack.agent.reconcile;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vtrack.agent.check.CheckResult;
import io.vtrack.agent.check.CheckStatus;
import io.vtrack.agent.check.Failure;
import io.vtrack.agent.check.FileGrowth;
import io.vtrack.agent.check.HealthCheck;
import io.vtrack.agent.model.CheckSpec;
import io.vtrack.agent.model.HealthPolicy;
import io.vtrack.agent.model.Interval;
import io.vtrack.agent.model.Reason;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fail-fast verification on scripted checks (DESIGN.md §2): wrong answers fail after {@code
 * startupFailureThreshold} rounds, not-ready rounds wait for {@code startupTimeout}, a known-good
 * revision needs one passing round.
 */
class VerificationTest {
  private final Vertx vertx = Vertx.vertx();
  private final FileGrowth files = new FileGrowth();

  @AfterEach
  void close() throws Exception {
    files.close();
    vertx.close().await();
  }

  static final CheckResult PASS = result("api", "http", CheckStatus.Passing, null);
  static final CheckResult WRONG = result("api", "http", CheckStatus.Failing, Failure.Wrong);
  static final CheckResult NOT_READY = result("api", "http", CheckStatus.Failing, Failure.NotReady);

  static CheckResult result(String name, String kind, CheckStatus s, Failure f) {
    return new CheckResult(name, kind, s, "v", name + " " + s, 1, Instant.now().toString(), f);
  }

  /** A check that answers the scripted results in order, then the last one forever. */
  static final class Scripted implements HealthCheck {
    final List<CheckResult> script;
    final List<Boolean> warmingUp = new java.util.ArrayList<>();
    int calls;

    Scripted(CheckResult... script) {
      this.script = List.of(script);
    }

    @Override
    public CheckSpec spec() {
      CheckSpec.Latency latency =
          "latency".equals(script.get(0).kind())
              ? new CheckSpec.Latency("http://127.0.0.1:1/", 10, null, null)
              : null;
      return new CheckSpec(script.get(0).name(), null, null, null, null, latency, null, null);
    }

    @Override
    public Future<CheckResult> run() {
      warmingUp.add(false);
      return Future.succeededFuture(script.get(Math.min(calls++, script.size() - 1)));
    }

    @Override
    public Future<CheckResult> runWarmingUp() {
      warmingUp.add(true);
      return Future.succeededFuture(script.get(Math.min(calls++, script.size() - 1)));
    }
  }

  private Verification.Outcome verify(
      Verification.Mode mode, String startupTimeout, String window, HealthCheck... checks)
      throws Exception {
    return verify(mode, startupTimeout, "10ms", window, List::of, checks);
  }

  private Verification.Outcome verify(
      Verification.Mode mode,
      String startupTimeout,
      String interval,
      String window,
      java.util.function.Supplier<List<String>> exited,
      HealthCheck... checks)
      throws Exception {
    return verify(mode, startupTimeout, interval, window, exited, new ArrayList<>(), checks);
  }

  /** Runs a verification to its end; each round it records is added to {@code rounds}. */
  private Verification.Outcome verify(
      Verification.Mode mode,
      String startupTimeout,
      String interval,
      String window,
      java.util.function.Supplier<List<String>> exited,
      List<Verification.Round> rounds,
      HealthCheck... checks)
      throws Exception {
    HealthPolicy policy =
        new HealthPolicy(
            Interval.parse(startupTimeout),
            Interval.parse(interval),
            Interval.parse(window),
            3,
            2,
            List.of());
    return runOn(vertx, files, policy, mode, exited, rounds::add, checks);
  }

  /**
   * Runs a verification to its end on a context of {@code vertx}; {@code onRound} sees each round.
   */
  static Verification.Outcome runOn(
      Vertx vertx,
      FileGrowth files,
      HealthPolicy policy,
      Verification.Mode mode,
      java.util.function.Supplier<List<String>> exited,
      java.util.function.Consumer<Verification.Round> onRound,
      HealthCheck... checks)
      throws Exception {
    return vertx
        .<Verification.Outcome>executeBlocking(() -> null)
        .compose(
            x ->
                new Verification(
                        vertx,
                        List.of(checks),
                        policy,
                        mode,
                        exited,
                        r -> {
                          onRound.accept(r);
                          return Future.succeededFuture();
                        },
                        files)
                    .run())
        .toCompletionStage()
        .toCompletableFuture()
        .get(60, TimeUnit.SECONDS);
  }

  @Test
  void aRollbackAskedForEndsAVerificationThatWouldWaitForItsStartupTimeout() throws Exception {
    HealthPolicy policy =
        new HealthPolicy(
            Interval.parse("10m"), Interval.parse("10ms"), Interval.parse("0s"), 3, 2, List.of());
    java.util.concurrent.CompletableFuture<Verification.Outcome> outcome =
        new java.util.concurrent.CompletableFuture<>();
    java.util.concurrent.atomic.AtomicBoolean knownGoodStopped =
        new java.util.concurrent.atomic.AtomicBoolean(true);
    vertx.runOnContext(
        x -> {
          Verification[] v = new Verification[1];
          v[0] =
              new Verification(
                  vertx,
                  List.of(new Scripted(NOT_READY)),
                  policy,
                  Verification.Mode.VERIFY,
                  List::of,
                  r -> {
                    if (r.number() == 3) {
                      v[0].stop("rolled back by someone while Verifying");
                    }
                    return Future.succeededFuture();
                  },
                  files);
          v[0].run().onComplete(ar -> outcome.complete(ar.result()));
          Verification knownGood =
              new Verification(
                  vertx,
                  List.of(new Scripted(NOT_READY)),
                  policy,
                  Verification.Mode.KNOWN_GOOD,
                  List::of,
                  r -> Future.succeededFuture(),
                  files);
          knownGood.run();
          knownGoodStopped.set(knownGood.stop("no"));
        });
    Verification.Outcome o = outcome.get(60, TimeUnit.SECONDS);
    assertThat(o.healthy()).isFalse();
    assertThat(o.reason()).isEqualTo(Reason.ManualRollback);
    assertThat(o.message()).isEqualTo("rolled back by someone while Verifying");
    assertThat(o.rounds()).isEqualTo(3);
    // The last healthy revision coming back is not stopped by a rollback.
    assertThat(knownGoodStopped).isFalse();
  }

  @Test
  void twoWrongRoundsInARowFailAtOnce() throws Exception {
    Verification.Outcome o =
        verify(Verification.Mode.VERIFY, "1h", "0s", new Scripted(NOT_READY, WRONG, WRONG));
    assertThat(o.healthy()).isFalse();
    assertThat(o.reason()).isEqualTo(Reason.ChecksFailed);
    assertThat(o.rounds()).isEqualTo(3);
    assertThat(o.message()).contains("2 rounds in a row answered wrong").contains("api Failing");
  }

  /**
   * A check the host kept from running (the Docker Engine does not answer) says nothing about the
   * revision: not during startup, not in the window, it never fails the rollout; the verification
   * ends as the host's trouble, to be run again once it is back.
   */
  @Test
  void aCheckTheHostKeptFromRunningFailsTheVerificationAsTheHostsTrouble() throws Exception {
    CheckResult host =
        result("containers", "containers", CheckStatus.Failing, Failure.HostUnavailable);
    CheckResult up = result("containers", "containers", CheckStatus.Passing, null);
    for (Scripted containers :
        List.of(new Scripted(host), new Scripted(up, up, host, up))) { // startup; in the window
      Throwable thrown =
          org.assertj.core.api.Assertions.catchThrowable(
              () ->
                  verify(
                      Verification.Mode.VERIFY,
                      "1h",
                      "0s",
                      "1h",
                      List::of,
                      new Scripted(PASS),
                      containers));
      assertThat(thrown)
          .hasRootCauseInstanceOf(
              io.vtrack.agent.runtime.Runtimes.RuntimeUnavailableException.class)
          .hasMessageContaining("the checks could not run: containers: containers Failing");
      assertThat(io.vtrack.agent.reconcile.ErrorMapping.classify(thrown).reason())
          .isEqualTo(Reason.RuntimeUnavailable);
    }
  }

  @Test
  void oneWrongRoundIsNotTwo() throws Exception {
    Verification.Outcome o =
        verify(Verification.Mode.VERIFY, "1h", "30ms", new Scripted(WRONG, NOT_READY, WRONG, PASS));
    assertThat(o.healthy()).isTrue();
  }

  /** An http-like check on a real port: passing once something listens there, else not ready. */
  final class Listening implements HealthCheck {
    final int port;

    Listening(int port) {
      this.port = port;
    }

    @Override
    public CheckSpec spec() {
      return new CheckSpec("api", null, null, null, null, null, null, null);
    }

    @Override
    public java.util.Optional<java.net.InetSocketAddress> asks() {
      return java.util.Optional.of(java.net.InetSocketAddress.createUnresolved("127.0.0.1", port));
    }

    @Override
    public Future<CheckResult> run() {
      return vertx
          .createNetClient()
          .connect(port, "127.0.0.1")
          .map(
              so -> {
                so.close();
                return PASS;
              })
          .otherwise(NOT_READY);
    }
  }

  static int freePort() throws Exception {
    return io.vtrack.agent.it.TestApp.freePort();
  }

  @Test
  void theFirstRoundAsksOnceTheAppListens() throws Exception {
    int port = freePort();
    // The app binds its port 300 ms after verification begins; rounds are 1 h apart.
    vertx.setTimer(
        300,
        id -> vertx.createNetServer().connectHandler(so -> so.close()).listen(port, "127.0.0.1"));
    Verification.Outcome o =
        verify(Verification.Mode.VERIFY, "2h", "1h", "0s", List::of, new Listening(port));
    assertThat(o.healthy()).isTrue();
    assertThat(o.rounds()).isEqualTo(1);
  }

  @Test
  void waitingForTheAppToListenEndsWhenAServiceExits() throws Exception {
    Verification.Outcome o =
        verify(
            Verification.Mode.VERIFY,
            "2h",
            "1h",
            "0s",
            () -> List.of("backend exited with status 1"),
            new Listening(freePort()));
    assertThat(o.reason()).isEqualTo(Reason.ServiceExited);
    assertThat(o.message()).contains("backend exited with status 1");
  }

  /** A check that never answers (a smoke command that hangs, within its timeout). */
  static final class Hanging implements HealthCheck {
    @Override
    public CheckSpec spec() {
      return new CheckSpec("smoke", null, null, null, null, null, null, null);
    }

    @Override
    public Future<CheckResult> run() {
      return io.vertx.core.Promise.<CheckResult>promise().future();
    }
  }

  /**
   * A check that passes its first round and never answers after. Its spec has no kind, as the
   * agent's own containers check: a result made for it carries {@link #kind()}.
   */
  static final class PassesThenHangs implements HealthCheck {
    int calls;

    @Override
    public CheckSpec spec() {
      return new CheckSpec("smoke", null, null, null, null, null, null, null);
    }

    @Override
    public String kind() {
      return "command";
    }

    @Override
    public Future<CheckResult> run() {
      return calls++ == 0
          ? Future.succeededFuture(result("smoke", "command", CheckStatus.Passing, null))
          : io.vertx.core.Promise.<CheckResult>promise().future();
    }
  }

  private List<Verification.Round> rounds(HealthCheck... checks) throws Exception {
    List<Verification.Round> rounds = new java.util.concurrent.CopyOnWriteArrayList<>();
    verify(Verification.Mode.VERIFY, "1h", "10ms", "1h", List::of, rounds, checks);
    return rounds;
  }

  @Test
  void aFailureInTheWindowEndsTheRoundWithoutWaitingForTheSlowestCheck() throws Exception {
    List<Verification.Round> rounds = rounds(new Scripted(PASS, NOT_READY), new PassesThenHangs());
    assertThat(rounds).hasSize(2);
    assertThat(rounds.get(1).result().results())
        .anySatisfy(
            r -> {
              assertThat(r.name()).isEqualTo("smoke");
              assertThat(r.status()).isEqualTo(CheckStatus.Unknown);
              assertThat(r.message()).isEqualTo("not awaited: api decided the round");
            });
    assertThat(rounds.get(1).result().failures()).isEqualTo("api: api Failing");
  }

  /** Passes its first round; from the second, answers wrong after 50 ms (a slower endpoint). */
  final class WrongAfterAMoment implements HealthCheck {
    int calls;

    @Override
    public CheckSpec spec() {
      return new CheckSpec("cameras", null, null, null, null, null, null, null);
    }

    @Override
    public Future<CheckResult> run() {
      if (calls++ == 0) {
        return Future.succeededFuture(result("cameras", "http", CheckStatus.Passing, null));
      }
      io.vertx.core.Promise<CheckResult> p = io.vertx.core.Promise.promise();
      vertx.setTimer(
          50, id -> p.complete(result("cameras", "http", CheckStatus.Failing, Failure.Wrong)));
      return p.future();
    }
  }

  @Test
  void aDecidedRoundStillNamesTheAnswersThatComeQuickly() throws Exception {
    List<Verification.Round> rounds =
        rounds(new Scripted(PASS, NOT_READY), new WrongAfterAMoment(), new PassesThenHangs());
    assertThat(rounds.get(1).result().results())
        .extracting(CheckResult::status)
        .containsExactly(CheckStatus.Failing, CheckStatus.Failing, CheckStatus.Unknown);
    assertThat(rounds.get(1).result().failures())
        .isEqualTo("api: api Failing; cameras: cameras Failing");
  }

  @Test
  void theWrongAnswerThatReachesTheThresholdEndsTheRound() throws Exception {
    // Round 1: wrong once, so it waits for every check; round 2: the second wrong answer in a row
    // is certain to fail the rollout, and the smoke test that hangs is not waited for.
    List<Verification.Round> rounds = rounds(new Scripted(WRONG, WRONG), new PassesThenHangs());
    assertThat(rounds).hasSize(2);
    assertThat(rounds.get(0).result().results()).allMatch(r -> r.status() != CheckStatus.Unknown);
    assertThat(rounds.get(1).result().results())
        .extracting(CheckResult::status)
        .containsExactly(CheckStatus.Failing, CheckStatus.Unknown);
    // The store requires a kind: a check not awaited still has one.
    assertThat(rounds.get(1).result().results().get(1).kind()).isEqualTo("command");
  }

  /**
   * Runs a verification of {@code check} whose service exits {@code exitAfterMillis} after it
   * starts, reported the way the runtimes report it; rounds are an hour apart.
   */
  private Verification.Outcome exitsAfter(
      long exitAfterMillis, HealthCheck check, List<Object> rounds) throws Exception {
    HealthPolicy policy =
        new HealthPolicy(
            Interval.parse("2h"), Interval.parse("1h"), Interval.parse("2h"), 3, 2, List.of());
    List<String> exited = new java.util.concurrent.CopyOnWriteArrayList<>();
    return vertx
        .<Verification.Outcome>executeBlocking(() -> null)
        .compose(
            x -> {
              Verification v =
                  new Verification(
                      vertx,
                      List.of(check),
                      policy,
                      Verification.Mode.VERIFY,
                      () -> exited,
                      r -> {
                        rounds.add(r);
                        return Future.succeededFuture();
                      },
                      files);
              vertx.setTimer(
                  exitAfterMillis,
                  id -> {
                    exited.add("backend (pid 7) exited with code 3");
                    v.servicesChanged();
                  });
              return v.run();
            })
        .toCompletionStage()
        .toCompletableFuture()
        .get(60, TimeUnit.SECONDS);
  }

  @Test
  void aServiceThatExitsWhileTheNextRoundIsAwaitedFailsAtOnce() throws Exception {
    List<Object> rounds = new ArrayList<>();
    Verification.Outcome o = exitsAfter(200, new Scripted(PASS), rounds);
    assertThat(o.reason()).isEqualTo(Reason.ServiceExited);
    assertThat(o.message()).contains("exited with code 3");
    assertThat(o.rounds()).isEqualTo(1);
    assertThat(rounds).hasSize(1);
  }

  @Test
  void aServiceThatExitsDuringARoundFailsWithoutWaitingForItsChecks() throws Exception {
    List<Object> rounds = new ArrayList<>();
    Verification.Outcome o = exitsAfter(200, new Hanging(), rounds);
    assertThat(o.reason()).isEqualTo(Reason.ServiceExited);
    assertThat(o.rounds()).isZero();
    assertThat(rounds).isEmpty();
  }

  @Test
  void anAppThatNeverListensIsAskedAfterOneInterval() throws Exception {
    Verification.Outcome o =
        verify(
            Verification.Mode.VERIFY, "300ms", "50ms", "0s", List::of, new Listening(freePort()));
    assertThat(o.reason()).isEqualTo(Reason.StartupTimeout);
    assertThat(o.rounds()).isGreaterThanOrEqualTo(1);
  }

  @Test
  void notReadyWaitsUntilStartupTimeout() throws Exception {
    Verification.Outcome o =
        verify(Verification.Mode.VERIFY, "200ms", "0s", new Scripted(NOT_READY));
    assertThat(o.reason()).isEqualTo(Reason.StartupTimeout);
    assertThat(o.rounds()).isGreaterThan(2);
  }

  @Test
  void anyFailureInTheWindowFails() throws Exception {
    Verification.Outcome o =
        verify(Verification.Mode.VERIFY, "1h", "1h", new Scripted(PASS, PASS, NOT_READY));
    assertThat(o.reason()).isEqualTo(Reason.WindowFailed);
  }

  @Test
  void slowWhileTheOthersWarmUpIsNotWrong() throws Exception {
    CheckResult slow = result("latency", "latency", CheckStatus.Failing, Failure.Wrong);
    CheckResult fastEnough = result("latency", "latency", CheckStatus.Passing, null);
    Scripted latency = new Scripted(slow, slow, slow, fastEnough);
    Verification.Outcome o =
        verify(
            Verification.Mode.VERIFY,
            "1h",
            "0s",
            new Scripted(NOT_READY, NOT_READY, PASS),
            latency);
    assertThat(o.healthy()).isTrue();
    // Until the round after the others passed, latency is told its limit cannot count (it may stop
    // at its first slow samples); from then on it runs in full.
    assertThat(latency.warmingUp).containsExactly(true, true, true, false);
    // Once the others passed, a slow round counts: two in a row fail.
    o =
        verify(
            Verification.Mode.VERIFY,
            "1h",
            "0s",
            new Scripted(PASS),
            new Scripted(slow, slow, slow, slow));
    assertThat(o.reason()).isEqualTo(Reason.ChecksFailed);
    assertThat(o.rounds()).isEqualTo(3);
  }

  @Test
  void aKnownGoodRevisionNeedsOnePassingRound() throws Exception {
    Verification.Outcome o =
        verify(Verification.Mode.KNOWN_GOOD, "1h", "1h", new Scripted(WRONG, WRONG, WRONG, PASS));
    assertThat(o.healthy()).isTrue();
    assertThat(o.rounds()).isEqualTo(4);
    o = verify(Verification.Mode.KNOWN_GOOD, "100ms", "1h", new Scripted(WRONG));
    assertThat(o.reason()).isEqualTo(Reason.StartupTimeout);
  }

  @Test
  void aCommandFailingBeforeTheAppAnswersIsNotWrong() {
    CheckResult smokeFails = result("smoke", "command", CheckStatus.Failing, Failure.Wrong);
    RoundJudgement j =
        RoundJudgement.of(List.of(NOT_READY, smokeFails), java.util.Set.of(), java.util.Map.of());
    assertThat(j.wrong()).isFalse();
    j = RoundJudgement.of(List.of(PASS, smokeFails), java.util.Set.of(), java.util.Map.of());
    assertThat(j.wrong()).isTrue();
    assertThat(j.wrongAnswers()).startsWith("smoke: ");
  }

  /**
   * A log check counting since the release started, as LogCheck does during verification: an
   * "error" line makes it fail for good.
   */
  static final class ErrorLog implements HealthCheck {
    final Path file;
    volatile boolean overMax;

    ErrorLog(Path file) {
      this.file = file;
    }

    @Override
    public CheckSpec spec() {
      return new CheckSpec(
          "no-errors",
          null,
          null,
          null,
          new CheckSpec.Log(file.toString(), null, "error", 0),
          null,
          null,
          null);
    }

    @Override
    public Future<CheckResult> run() {
      try {
        overMax = Files.readString(file).contains("error");
      } catch (java.io.IOException e) {
        return Future.failedFuture(e);
      }
      return Future.succeededFuture(
          overMax
              ? result("no-errors", "log", CheckStatus.Failing, Failure.Wrong)
              : result("no-errors", "log", CheckStatus.Passing, null));
    }

    @Override
    public boolean failedForGood() {
      return overMax;
    }

    @Override
    public boolean grows() {
      return true;
    }

    @Override
    public AutoCloseable watchWrites(FileGrowth files, Runnable written) {
      return files.watch(file, written);
    }
  }

  /**
   * Verifies {@code checks} with rounds an hour apart; once the first round is recorded, an error
   * line is appended to {@code log}.
   */
  private Verification.Outcome errorAfterRoundOne(
      Path log, List<Verification.Round> rounds, HealthCheck... checks) throws Exception {
    HealthPolicy policy =
        new HealthPolicy(
            Interval.parse("2h"), Interval.parse("1h"), Interval.parse("2h"), 3, 2, List.of());
    return runOn(
        vertx,
        files,
        policy,
        Verification.Mode.VERIFY,
        List::of,
        r -> {
          rounds.add(r);
          if (rounds.size() == 1) {
            // Once the round is judged (it is, as soon as this returns).
            vertx.runOnContext(
                v ->
                    vertx.executeBlocking(
                        () ->
                            Files.writeString(
                                log, "error: db write failed\n", StandardOpenOption.APPEND)));
          }
        },
        checks);
  }

  @Test
  void anErrorLoggedWhileTheNextRoundIsAwaitedFailsStartupAtOnce(@TempDir Path dir)
      throws Exception {
    Path log = Files.writeString(dir.resolve("app.log"), "started\n");
    List<Verification.Round> rounds = new ArrayList<>();
    Verification.Outcome o =
        errorAfterRoundOne(log, rounds, new Scripted(NOT_READY), new ErrorLog(log));
    // Not when the next round was due, an hour later: a round ran at once and failed on the log.
    assertThat(o.reason()).isEqualTo(Reason.StartupFailed);
    assertThat(o.message()).contains("no-errors");
    assertThat(rounds).hasSize(2);
  }

  @Test
  void anErrorLoggedInTheWindowFailsItAtOnce(@TempDir Path dir) throws Exception {
    Path log = Files.writeString(dir.resolve("app.log"), "started\n");
    List<Verification.Round> rounds = new ArrayList<>();
    Verification.Outcome o = errorAfterRoundOne(log, rounds, new Scripted(PASS), new ErrorLog(log));
    assertThat(o.reason()).isEqualTo(Reason.WindowFailed);
    assertThat(o.message()).contains("no-errors");
    assertThat(rounds).extracting(Verification.Round::phase).containsExactly("startup", "window");
  }

  @Test
  void aLogWrittenWithoutErrorsChangesNothing(@TempDir Path dir) throws Exception {
    Path log = Files.writeString(dir.resolve("app.log"), "started\n");
    List<Verification.Round> rounds = new java.util.concurrent.CopyOnWriteArrayList<>();
    // Written throughout the 1 s window: counted each time, never failing.
    long writer =
        vertx.setPeriodic(
            20,
            id ->
                vertx.executeBlocking(
                    () -> Files.writeString(log, "GET /api\n", StandardOpenOption.APPEND)));
    HealthPolicy policy =
        new HealthPolicy(
            Interval.parse("2h"), Interval.parse("300ms"), Interval.parse("1s"), 3, 2, List.of());
    Verification.Outcome o;
    try {
      o =
          runOn(
              vertx,
              files,
              policy,
              Verification.Mode.VERIFY,
              List::of,
              rounds::add,
              new ErrorLog(log));
    } finally {
      vertx.cancelTimer(writer);
    }
    assertThat(o.healthy()).isTrue();
    // Rounds kept their interval: about four in a 1 s window, not one per write.
    assertThat(rounds.size()).isBetween(2, 8);
  }
}
