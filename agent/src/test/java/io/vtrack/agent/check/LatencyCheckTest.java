package io.vtrack.agent.check;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.equalTo;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vtrack.agent.model.CheckSpec;
import io.vtrack.agent.model.Interval;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The latency check on real HTTP servers that answer after a set delay: against the stored
 * baseline, and side by side with the live instance (blue-green), where a host that slows both
 * alike is not a regression and a slower candidate still is.
 */
class LatencyCheckTest {
  private final Vertx vertx = Vertx.vertx();
  // The agent's: Vert.x's default pool of 5 a host would hold a sixth sample back behind five held.
  private final HttpClient client = CheckFactory.httpClient(vertx);

  @AfterEach
  void close() {
    vertx.close().await();
  }

  /** A server answering every request after {@code delayMs}; returns its URL. */
  private String server(long delayMs) {
    return server(delayMs, new AtomicInteger());
  }

  /** The same, counting the requests it was asked. */
  private String server(long delayMs, AtomicInteger asked) {
    HttpServer s =
        vertx
            .createHttpServer()
            .requestHandler(
                req -> {
                  asked.incrementAndGet();
                  if (delayMs == 0) {
                    req.response().end("ok");
                  } else {
                    vertx.setTimer(delayMs, id -> req.response().end("ok"));
                  }
                })
            .listen(0, "127.0.0.1")
            .await();
    return "http://127.0.0.1:" + s.actualPort() + "/";
  }

  private static CheckSpec spec(String url) {
    return spec(url, 5);
  }

  private static CheckSpec spec(String url, int samples) {
    return spec(url, samples, "5s");
  }

  private static CheckSpec spec(String url, int samples, String timeout) {
    return new CheckSpec(
        "latency",
        Interval.parse(timeout),
        null,
        null,
        null,
        new CheckSpec.Latency(url, samples, null, Interval.parse("50ms")),
        null,
        null);
  }

  private CheckResult run(String url, Double baselineMs, String liveUrl) throws Exception {
    return new LatencyCheck(
            spec(url), url, client, baselineMs, "recorded when abc1234 was verified", true, liveUrl)
        .run()
        .toCompletionStage()
        .toCompletableFuture()
        .get(60, TimeUnit.SECONDS);
  }

  @Test
  void aBusyHostIsNotTakenForARegressionWhenTheLiveInstanceIsSampledBeside() throws Exception {
    // Stored baseline 2 ms; now the host is busy and both instances answer in 120 ms.
    String candidate = server(120);
    String live = server(120);
    CheckResult againstStored = run(candidate, 2.0, null);
    assertThat(againstStored.passing()).isFalse();
    assertThat(againstStored.message())
        .contains("vs baseline 2.0ms (recorded when abc1234 was verified)");

    CheckResult sideBySide = run(candidate, 2.0, live);
    assertThat(sideBySide.passing()).as(sideBySide.message()).isTrue();
    assertThat(sideBySide.message()).contains("on the live instance, side by side");
  }

  @Test
  void aSlowerCandidateFailsSideBySide() throws Exception {
    CheckResult r = run(server(150), 2.0, server(0));
    assertThat(r.passing()).isFalse();
    assertThat(r.failure()).isEqualTo(Failure.Wrong);
    assertThat(r.message()).contains("on the live instance, side by side");
  }

  @Test
  void whileItsLimitCannotCountASlowRevisionIsAskedOnlyUntilItsFirstSamplesAreSlow()
      throws Exception {
    AtomicInteger asked = new AtomicInteger();
    String candidate = server(150, asked);
    String live = server(0);
    LatencyCheck check =
        new LatencyCheck(spec(candidate, 10), candidate, client, 2.0, null, true, live);

    CheckResult warming =
        check.runWarmingUp().toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    // The live instance is asked beside it: on a busy machine a slower live sample may raise the
    // limit just after the deciding sample was counted at the time that decided it, and then one
    // sample more decides. So: at least as many samples as can decide, and fewer than all.
    assertThat(warming.passing()).isFalse();
    int warmingTaken = stoppedAfter(warming, "each was over");
    assertThat(warmingTaken).as(warming.message()).isBetween(LatencyCheck.WARMING_SAMPLES, 9);
    assertThat(asked.get()).isEqualTo(warmingTaken);

    // Where it counts, it takes samples until the median cannot come under: 5 of 10 at the least.
    asked.set(0);
    CheckResult counted =
        check.run().toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    assertThat(counted.failure()).isEqualTo(Failure.Wrong);
    int taken = stoppedAfter(counted, "the median could not come under");
    assertThat(taken).as(counted.message()).isBetween(5, 9);
    assertThat(asked.get()).isEqualTo(taken);
  }

  /** N of the result's "stopped after N of 10 samples: {@code why}", which it must say. */
  private static int stoppedAfter(CheckResult r, String why) {
    var m =
        java.util.regex.Pattern.compile(
                "stopped after (\\d+) of 10 samples: " + java.util.regex.Pattern.quote(why))
            .matcher(r.message());
    assertThat(m.find()).as(r.message()).isTrue();
    return Integer.parseInt(m.group(1));
  }

  /**
   * A server whose first {@code slow} requests are answered after 150 ms and the rest are held
   * until {@link #answer}; it counts the requests asked and the connections closed while a request
   * on them was held.
   */
  private final class SlowThenHeld {
    final AtomicInteger asked = new AtomicInteger();
    final AtomicInteger abandoned = new AtomicInteger();
    final List<HttpServerRequest> held = new CopyOnWriteArrayList<>();
    final String url;

    SlowThenHeld(int slow) {
      HttpServer s =
          vertx
              .createHttpServer()
              .requestHandler(
                  req -> {
                    if (asked.incrementAndGet() <= slow) {
                      vertx.setTimer(150, id -> req.response().end("ok"));
                    } else {
                      held.add(req);
                      // Closed once answered is the client's way (no keep-alive).
                      req.connection()
                          .closeHandler(
                              v -> {
                                if (!req.response().ended()) {
                                  abandoned.incrementAndGet();
                                }
                              });
                    }
                  })
              .listen(0, "127.0.0.1")
              .await();
      url = "http://127.0.0.1:" + s.actualPort() + "/";
    }

    /**
     * Answers the held requests, as the app does when it is done: their clients must still be
     * there.
     */
    void answer() {
      await().atMost(Duration.ofSeconds(10)).until(() -> !held.isEmpty());
      for (HttpServerRequest req : held) {
        req.response().end("late").await();
      }
      assertThat(abandoned.get()).as("requests whose client went away").isZero();
    }
  }

  private static CheckResult done(Future<CheckResult> round) throws Exception {
    return round.toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
  }

  /**
   * Ten samples of {@code candidate} against a baseline of 2 ms, which must be wrong after six, not
   * waiting for some.
   */
  private CheckResult overAfterSixOfTen(SlowThenHeld candidate) throws Exception {
    CheckResult r =
        done(
            new LatencyCheck(spec(candidate.url, 10), candidate.url, client, 2.0, null, true, null)
                .run());
    assertThat(r.failure()).as(r.message()).isEqualTo(Failure.Wrong);
    assertThat(r.message())
        .contains("stopped after 6 of 10 samples: the median could not come under")
        .contains("counted then, not waited for");
    assertThat(candidate.asked.get()).isEqualTo(6);
    return r;
  }

  @Test
  void aSampleOverTheLimitIsNotWaitedForPastIt() throws Exception {
    // Four samples of 150 ms, then held ones, against a limit of 52 ms (baseline 2 ms + 50 ms):
    // each is counted once it has taken the limit with headroom (57.2 ms) and the next goes out,
    // so six samples decide the median of 10 (the mean of the fifth and sixth of ten, the four not
    // taken counting as 0 ms), long before a held one's timeout (5 s) would end the round as
    // unanswered.
    SlowThenHeld candidate = new SlowThenHeld(4);
    CheckResult r = overAfterSixOfTen(candidate);
    assertThat(r.message()).contains("still unanswered at");
    // The requests it stopped waiting for are left to finish: an app whose client went away would
    // log a broken pipe, which a log check would count against the revision.
    candidate.answer();
  }

  @Test
  void anEndpointThatHoldsEveryAnswerIsOverTheLimitNotUnanswered() throws Exception {
    // The app answers the other checks (the limit counts only then) but this endpoint never: each
    // sample over the limit is counted at it, and the round is wrong after six of ten, not
    // unanswered after the first sample's timeout.
    SlowThenHeld candidate = new SlowThenHeld(0);
    CheckResult r = overAfterSixOfTen(candidate);
    assertThat(r.message())
        .startsWith("median at least ")
        .contains("6 samples still unanswered at");
    assertThat(Double.parseDouble(r.value().replace("ms", ""))).isGreaterThanOrEqualTo(57.2);
    candidate.answer();
  }

  @Test
  void whileWarmingUpTheSecondSlowSampleIsNotWaitedForPastTheLimit() throws Exception {
    SlowThenHeld candidate = new SlowThenHeld(1);
    CheckResult r =
        done(
            new LatencyCheck(
                    spec(candidate.url, 10), candidate.url, client, 2.0, null, true, server(0))
                .runWarmingUp());
    assertThat(r.passing()).isFalse();
    // Two at the least; one more on a busy machine, where a slower live sample may raise the limit
    // just after the second was counted.
    int taken = stoppedAfter(r, "each was over while the revision warms up");
    assertThat(taken).as(r.message()).isBetween(2, 9);
    assertThat(r.message()).contains("not waited for");
    await().atMost(Duration.ofSeconds(10)).until(() -> candidate.held.size() == taken - 1);
    candidate.answer();
  }

  /**
   * A server whose first request is answered {@code afterSecondMs} after the second one arrives,
   * and every other at once.
   */
  private String firstAnsweredAfterSecond(long afterSecondMs, AtomicInteger asked) {
    List<HttpServerRequest> first = new CopyOnWriteArrayList<>();
    HttpServer s =
        vertx
            .createHttpServer()
            .requestHandler(
                req -> {
                  int n = asked.incrementAndGet();
                  if (n == 1) {
                    first.add(req);
                    return;
                  }
                  if (n == 2) {
                    vertx.setTimer(afterSecondMs, id -> first.get(0).response().end("late"));
                  }
                  req.response().end("ok");
                })
            .listen(0, "127.0.0.1")
            .await();
    return "http://127.0.0.1:" + s.actualPort() + "/";
  }

  @Test
  void aSampleCountedBeforeItEndedIsWaitedForWhenTheVerdictNeedsItsTime() throws Exception {
    // Three samples: the first is over the limit (52 ms), counted at 57.2 ms and the next goes
    // out; the other two are fast, so the median is fast whatever the first takes: a pass, but
    // only once the first has its own time (it is answered 200 ms after the second arrives).
    AtomicInteger asked = new AtomicInteger();
    String url = firstAnsweredAfterSecond(200, asked);
    CheckResult r = done(new LatencyCheck(spec(url, 3), url, client, 2.0, null, true, null).run());
    assertThat(r.passing()).as(r.message()).isTrue();
    assertThat(asked.get()).isEqualTo(3);
    assertThat(r.message()).doesNotContain("not waited for");

    // Of two samples the median is their mean: counted at 57.2 ms the first leaves it under the
    // limit, its own time (over 200 ms) puts it over, and that is the verdict.
    AtomicInteger asked2 = new AtomicInteger();
    String url2 = firstAnsweredAfterSecond(200, asked2);
    CheckResult r2 =
        done(new LatencyCheck(spec(url2, 2), url2, client, 2.0, null, true, null).run());
    assertThat(r2.failure()).as(r2.message()).isEqualTo(Failure.Wrong);
    assertThat(Double.parseDouble(r2.value().replace("ms", ""))).isGreaterThan(100.0);
    assertThat(r2.message()).doesNotContain("not waited for");
  }

  @Test
  void aSampleIsCountedOverOnceItHasTakenTheLimitWithHeadroom() {
    // Baseline 2 ms + 50 ms: a limit of 52 ms. Counted at 52 ms, a live sample a hair slower
    // after it took the verdict back; it is counted at 57.2 ms instead.
    LatencyCheck check =
        new LatencyCheck(
            spec("http://127.0.0.1:1/", 3), "http://127.0.0.1:1/", client, 2.0, null, true, null);
    assertThat(check.cutAfterMs(List.of()))
        .isCloseTo(52 * LatencyCheck.DECIDING_HEADROOM, org.assertj.core.data.Offset.offset(0.1));
    // Side by side, the live instance's median of the round sets the limit.
    assertThat(check.cutAfterMs(List.of(10.0, 10.0)))
        .isCloseTo(60 * LatencyCheck.DECIDING_HEADROOM, org.assertj.core.data.Offset.offset(0.1));
    // Without a baseline nothing is over: every sample is waited for.
    LatencyCheck first =
        new LatencyCheck(
            spec("http://127.0.0.1:1/", 3), "http://127.0.0.1:1/", client, null, null, true, null);
    assertThat(first.cutAfterMs(List.of())).isEqualTo(-1);
    // Nor where the timeout comes first.
    LatencyCheck shortTimeout =
        new LatencyCheck(
            spec("http://127.0.0.1:1/", 3, "50ms"),
            "http://127.0.0.1:1/",
            client,
            2.0,
            null,
            true,
            null);
    assertThat(shortTimeout.cutAfterMs(List.of())).isEqualTo(-1);
  }

  @Test
  void whileWarmingUpARevisionAsFastAsTheLiveOneTakesAllItsSamplesAndPasses() throws Exception {
    AtomicInteger asked = new AtomicInteger();
    String candidate = server(0, asked);
    CheckResult r =
        new LatencyCheck(spec(candidate, 10), candidate, client, 2.0, null, true, server(0))
            .runWarmingUp()
            .toCompletionStage()
            .toCompletableFuture()
            .get(60, TimeUnit.SECONDS);
    assertThat(r.passing()).as(r.message()).isTrue();
    assertThat(asked.get()).isEqualTo(10);
  }

  @Test
  void aRoundGivesALatencyCheckTheTimeOfAllItsSamples() throws Exception {
    // 8 samples of 300 ms with a timeout of 1 s: each sample is well within it, the series is not
    // (2.4 s). The round's guard gave the whole check its timeout plus 1 s, and a revision as fast
    // as the last could never pass: "timed out after 1s", not ready, until startupTimeout. No
    // baseline, so a busy host's slower samples cannot fail it: only the round's time is tested.
    String url = server(300);
    CheckSpec spec = spec(url, 8, "1s");
    CheckRound round =
        CheckRound.run(vertx, List.of(new LatencyCheck(spec, url, client, null, null, true, null)))
            .toCompletionStage()
            .toCompletableFuture()
            .get(60, TimeUnit.SECONDS);
    assertThat(round.results().get(0).passing()).as(round.results().get(0).message()).isTrue();
  }

  @Test
  void aSampleWhoseAnswerNeverEndsIsUnansweredAtItsTimeout() throws Exception {
    // An endpoint that streams without end (events, a huge file): the sample's timeout is for the
    // whole answer, not for a pause in it; what it sends is not kept; its request is broken off.
    AtomicInteger closed = new AtomicInteger();
    String url = HttpCheckTest.endless(vertx, closed);
    CheckSpec spec = spec(url, 3, "3s");
    // No baseline: with one, a sample over its limit is counted at it and not waited for.
    CheckResult r = done(new LatencyCheck(spec, url, client, null, null, true, null).run());
    assertThat(r.failure()).as(r.message()).isEqualTo(Failure.Unanswered);
    assertThat(r.message()).contains("the answer did not end within 3s");
    await().atMost(Duration.ofSeconds(30)).untilAtomic(closed, equalTo(1));
  }

  @Test
  void theFirstRevisionHasNoBaselineAndPassesSayingWhy() throws Exception {
    String url = server(1);
    CheckResult r =
        done(
            new LatencyCheck(
                    spec(url),
                    url,
                    client,
                    null,
                    "no commit was verified healthy here yet",
                    true,
                    null)
                .run());
    assertThat(r.passing()).as(r.message()).isTrue();
    assertThat(r.message()).contains("(no baseline: no commit was verified healthy here yet)");
  }

  @Test
  void monitoringReportsTheMedianAndComparesWithNothing() throws Exception {
    String url = server(1);
    CheckResult r =
        new LatencyCheck(spec(url), url, client, null, null, false, null)
            .run()
            .toCompletionStage()
            .toCompletableFuture()
            .get(60, TimeUnit.SECONDS);
    assertThat(r.passing()).as(r.message()).isTrue();
    assertThat(r.message()).startsWith("median ").doesNotContain("baseline");
  }

  @Test
  void aLiveInstanceThatDoesNotAnswerLeavesTheStoredBaselineInCharge() throws Exception {
    CheckResult r = run(server(150), 2.0, "http://127.0.0.1:1/");
    assertThat(r.passing()).isFalse();
    assertThat(r.message()).contains("vs baseline 2.0ms");
  }
}
