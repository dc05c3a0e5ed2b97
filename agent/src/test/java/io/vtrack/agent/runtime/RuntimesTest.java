package io.vtrack.agent.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import io.vtrack.agent.model.RuntimeSpec.RuntimeType;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The compose runtime is made on first use, and never kept past the agent's stop. */
class RuntimesTest {

  @Test
  void noComposeRuntimeIsMadeAfterClose() {
    AtomicInteger made = new AtomicInteger();
    Runtimes runtimes = counting(made);
    runtimes.close();
    assertThat(runtimes.unavailable(RuntimeType.compose)).isEqualTo("the agent is stopping");
    assertThat(made).hasValue(0);
    assertThat(runtimes.composeIfStarted()).isNull();
  }

  @Test
  void aComposeRuntimeMadeWhileClosingIsNotKept() throws Exception {
    CountDownLatch inFactory = new CountDownLatch(1);
    CountDownLatch closed = new CountDownLatch(1);
    Runtimes runtimes =
        new Runtimes(
            null,
            () -> {
              inFactory.countDown();
              try {
                closed.await(30, TimeUnit.SECONDS);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
              return new ComposeRuntime(null, null, (d, s) -> {});
            });
    CompletableFuture<String> problem =
        CompletableFuture.supplyAsync(() -> runtimes.unavailable(RuntimeType.compose));
    assertThat(inFactory.await(30, TimeUnit.SECONDS)).isTrue();
    runtimes.close();
    closed.countDown();
    assertThat(problem.get(30, TimeUnit.SECONDS)).isEqualTo("the agent is stopping");
    assertThat(runtimes.composeIfStarted()).isNull();
  }

  @Test
  void aComposeRuntimeIsMadeOnFirstUseAndKept() {
    AtomicInteger made = new AtomicInteger();
    Runtimes runtimes = counting(made);
    assertThat(runtimes.unavailable(RuntimeType.compose)).isNull();
    assertThat(runtimes.unavailable(RuntimeType.compose)).isNull();
    assertThat(runtimes.composeIfStarted()).isNotNull();
    assertThat(made).hasValue(1);
  }

  /** Runtimes whose compose factory counts what it made in {@code made}. */
  private static Runtimes counting(AtomicInteger made) {
    return new Runtimes(
        null,
        () -> {
          made.incrementAndGet();
          return new ComposeRuntime(null, null, (d, s) -> {});
        });
  }
}
