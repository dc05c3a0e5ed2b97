package io.vtrack.agent.check;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vtrack.agent.model.CheckSpec;
import io.vtrack.agent.model.Interval;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * One run at a time: a round that starts while the previous run is still within its timeout gets
 * that run's answer (a round decided early leaves its slow checks running, and the next round
 * follows within a millisecond when a log count cannot fall); one that overstays is reported.
 */
class BlockingCheckTest {
  private final Vertx vertx = Vertx.vertx();
  private final WorkerExecutor pool = vertx.createSharedWorkerExecutor("blocking-check-test", 4);

  @AfterEach
  void close() {
    vertx.close().await();
  }

  /** A check whose runs each wait for {@code release}, then answer with their number. */
  private static final class Gated extends BlockingCheck {
    final CountDownLatch release = new CountDownLatch(1);
    final AtomicInteger runs = new AtomicInteger();

    Gated(WorkerExecutor pool, String timeout) {
      super(
          new CheckSpec(
              "no-errors",
              Interval.parse(timeout),
              null,
              null,
              new CheckSpec.Log("/var/log/app.log", null, "ERROR", 0),
              null,
              null,
              null),
          pool);
    }

    @Override
    protected CheckResult check(long startNanos) throws Exception {
      int n = runs.incrementAndGet();
      release.await(60, TimeUnit.SECONDS);
      return result(
              CheckStatus.Failing, "1", "ERROR cannot load plugin (run " + n + ")", startNanos)
          .as(Failure.Wrong);
    }
  }

  private static CheckResult get(Future<CheckResult> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
  }

  @Test
  void aRunWhileThePreviousIsWithinItsTimeoutGetsThatRunsAnswer() throws Exception {
    Gated c = new Gated(pool, "1h");
    Future<CheckResult> first = c.run();
    await().atMost(Duration.ofSeconds(30)).until(() -> c.runs.get() == 1);
    Future<CheckResult> second = c.run();
    assertThat(second.isComplete()).isFalse();
    c.release.countDown();
    assertThat(get(second).message()).isEqualTo("ERROR cannot load plugin (run 1)");
    assertThat(get(second).failure()).isEqualTo(Failure.Wrong);
    assertThat(get(first)).isEqualTo(get(second));
    assertThat(c.runs.get()).isEqualTo(1);
    // Once it has finished, the next round reads afresh.
    assertThat(get(c.run()).message()).isEqualTo("ERROR cannot load plugin (run 2)");
  }

  @Test
  void aRunThatOverstaysItsTimeoutIsReportedNotQueuedBehind() throws Exception {
    Gated c = new Gated(pool, "50ms");
    Future<CheckResult> stuck = c.run();
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () -> {
              Future<CheckResult> f = c.run();
              return f.isComplete() && f.result().message().contains("has not finished");
            });
    CheckResult reported = get(c.run());
    assertThat(reported.message())
        .isEqualTo("the previous run of this check has not finished (over its timeout 50ms)");
    assertThat(reported.failure()).isEqualTo(Failure.NotReady);
    assertThat(c.runs.get()).isEqualTo(1);
    c.release.countDown();
    get(stuck);
    assertThat(get(c.run()).message()).isEqualTo("ERROR cannot load plugin (run 2)");
  }
}
