package io.vtrack.agent.reconcile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** One slot per deployment: commands and reconciles never overlap, nothing is lost or doubled. */
class ReconcileQueueTest {
  private final Vertx vertx = Vertx.vertx();
  private final Context ctx = vertx.getOrCreateContext();

  @AfterEach
  void close() {
    vertx.close().await();
  }

  /** Runs {@code work} on the queue's context and waits for it. */
  private <T> T on(Supplier<T> work) throws Exception {
    CompletableFuture<T> f = new CompletableFuture<>();
    ctx.runOnContext(
        v -> {
          try {
            f.complete(work.get());
          } catch (RuntimeException e) {
            f.completeExceptionally(e);
          }
        });
    return f.get(30, TimeUnit.SECONDS);
  }

  /** A reconcile the test finishes by hand, counting how many run at once. */
  static final class Reconciles {
    final AtomicInteger running = new AtomicInteger();
    final AtomicInteger maxRunning = new AtomicInteger();
    final AtomicInteger runs = new AtomicInteger();
    final List<Promise<ReconcileQueue.Next>> open = new ArrayList<>();

    Future<ReconcileQueue.Next> run(String key) {
      maxRunning.accumulateAndGet(running.incrementAndGet(), Math::max);
      runs.incrementAndGet();
      Promise<ReconcileQueue.Next> p = Promise.promise();
      synchronized (open) {
        open.add(p);
      }
      return p.future().onComplete(ar -> running.decrementAndGet());
    }

    void finishOne(Context ctx, ReconcileQueue.Next next) {
      ctx.runOnContext(
          v -> {
            Promise<ReconcileQueue.Next> p;
            synchronized (open) {
              p = open.remove(0);
            }
            p.complete(next);
          });
    }

    int openCount() {
      synchronized (open) {
        return open.size();
      }
    }
  }

  @Test
  void enqueuesDuringAReconcileGiveExactlyOneMore() throws Exception {
    Reconciles r = new Reconciles();
    ReconcileQueue q = on(() -> new ReconcileQueue(vertx, r::run));
    on(
        () -> {
          q.enqueue("a");
          return null;
        });
    await().atMost(Duration.ofSeconds(10)).until(() -> r.openCount() == 1);
    on(
        () -> {
          for (int i = 0; i < 5; i++) {
            q.enqueue("a");
          }
          return null;
        });
    r.finishOne(ctx, new ReconcileQueue.Next.Done());
    await().atMost(Duration.ofSeconds(10)).until(() -> r.runs.get() == 2 && r.openCount() == 1);
    r.finishOne(ctx, new ReconcileQueue.Next.Done());
    await().atMost(Duration.ofSeconds(10)).until(() -> r.openCount() == 0);
    assertThat(r.runs.get()).isEqualTo(2);
    assertThat(r.maxRunning.get()).isEqualTo(1);
    assertThat(on(() -> q.busy("a"))).isFalse();
  }

  @Test
  void twoCommandsRacingInOneSlotRunOneAfterTheOther() throws Exception {
    Reconciles r = new Reconciles();
    ReconcileQueue q = on(() -> new ReconcileQueue(vertx, r::run));
    AtomicInteger inCommand = new AtomicInteger();
    AtomicInteger maxInCommand = new AtomicInteger();
    List<Promise<String>> commands = new ArrayList<>();
    List<Future<String>> answers = new ArrayList<>();
    on(
        () -> {
          for (int i = 0; i < 2; i++) {
            String id = "c" + i;
            answers.add(
                q.submit(
                    "a",
                    () -> {
                      maxInCommand.accumulateAndGet(inCommand.incrementAndGet(), Math::max);
                      Promise<String> p = Promise.promise();
                      commands.add(p);
                      return p.future().map(x -> id).onComplete(ar -> inCommand.decrementAndGet());
                    }));
          }
          return null;
        });
    await().atMost(Duration.ofSeconds(10)).until(() -> on(commands::size) == 1);
    on(
        () -> {
          commands.get(0).complete("done");
          return null;
        });
    await().atMost(Duration.ofSeconds(10)).until(() -> on(commands::size) == 2);
    assertThat(r.runs.get()).as("no reconcile between two queued commands").isZero();
    on(
        () -> {
          commands.get(1).complete("done");
          return null;
        });
    await().atMost(Duration.ofSeconds(10)).until(() -> r.openCount() == 1);
    assertThat(maxInCommand.get()).isEqualTo(1);
    assertThat(answers.get(0).result()).isEqualTo("c0");
    assertThat(answers.get(1).result()).isEqualTo("c1");
    r.finishOne(ctx, new ReconcileQueue.Next.Done());
  }

  @Test
  void aDeletionRacingAnEnqueueNeverRunsTwoAtOnce() throws Exception {
    // The reconcile that finds the document gone (and applies its deletion policy) is one slow
    // reconcile; an event arriving meanwhile waits for it, then looks again.
    Reconciles r = new Reconciles();
    ReconcileQueue q = on(() -> new ReconcileQueue(vertx, r::run));
    on(
        () -> {
          q.enqueue("gone");
          return null;
        });
    await().atMost(Duration.ofSeconds(10)).until(() -> r.openCount() == 1);
    on(
        () -> {
          q.enqueue("gone");
          return q.submit("gone", () -> Future.succeededFuture("cmd"));
        });
    assertThat(r.maxRunning.get()).isEqualTo(1);
    r.finishOne(ctx, new ReconcileQueue.Next.Done());
    await().atMost(Duration.ofSeconds(10)).until(() -> r.runs.get() == 2);
    r.finishOne(ctx, new ReconcileQueue.Next.Done());
    await().atMost(Duration.ofSeconds(10)).until(() -> !on(() -> q.busy("gone")));
    assertThat(r.maxRunning.get()).isEqualTo(1);
  }

  @Test
  void againIsBoundedAndAfterLooksLater() throws Exception {
    AtomicInteger runs = new AtomicInteger();
    ReconcileQueue q =
        on(
            () ->
                new ReconcileQueue(
                    vertx,
                    key ->
                        Future.succeededFuture(
                            runs.incrementAndGet() <= 200
                                ? new ReconcileQueue.Next.Again()
                                : new ReconcileQueue.Next.Done())));
    on(
        () -> {
          q.enqueue("a");
          return null;
        });
    await().atMost(Duration.ofSeconds(10)).until(() -> !on(() -> q.busy("a")));
    assertThat(runs.get()).isEqualTo(ReconcileQueue.MAX_AGAIN + 1);

    AtomicInteger later = new AtomicInteger();
    ReconcileQueue q2 =
        on(
            () ->
                new ReconcileQueue(
                    vertx,
                    key ->
                        Future.succeededFuture(
                            later.incrementAndGet() == 1
                                ? new ReconcileQueue.Next.After(50)
                                : new ReconcileQueue.Next.Done())));
    on(
        () -> {
          q2.enqueue("a");
          return null;
        });
    await().atMost(Duration.ofSeconds(10)).until(() -> later.get() == 2);
  }
}
