package io.vtrack.agent.reconcile;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The only way anything happens to a deployment (after JOSDK's per-resource execution): one slot
 * per name, in which commands (API calls, deletions) and reconciles run one at a time, never two of
 * one deployment at once. An enqueue while the slot is busy marks it dirty, so exactly one more
 * reconcile follows, which reads everything afresh. Confined to one Vert.x context: every method
 * must be called on it.
 */
public final class ReconcileQueue {
  /** What a reconcile asks of the queue once it ended. */
  public sealed interface Next {
    /** Nothing more until the next event. */
    record Done() implements Next {}

    /** Go again at once (the state moved on: run the next step). */
    record Again() implements Next {}

    /** Look again after a delay (a timer, a backoff). */
    record After(long millis) implements Next {}
  }

  /** At most this many reconciles in a row without an event in between. */
  static final int MAX_AGAIN = 50;

  private final Vertx vertx;
  private final Function<String, Future<Next>> reconcile;
  private final Map<String, Slot> slots = new HashMap<>();
  private boolean stopped;

  private static final class Slot {
    boolean running;
    boolean dirty;
    int again;
    final Deque<Supplier<Future<?>>> commands = new ArrayDeque<>();
    final List<Promise<Void>> idleWaiters = new ArrayList<>();
    long timer = -1;
  }

  /**
   * @param reconcile one reconcile of a deployment by name; its future never fails on purpose (a
   *     failure is treated as {@link Next.Done})
   */
  public ReconcileQueue(Vertx vertx, Function<String, Future<Next>> reconcile) {
    this.vertx = vertx;
    this.reconcile = reconcile;
  }

  /** "Deployment {@code key} may need work": a reconcile runs now or right after the current. */
  public void enqueue(String key) {
    if (stopped) {
      return;
    }
    Slot s = slots.computeIfAbsent(key, k -> new Slot());
    s.dirty = true;
    s.again = 0;
    drain(key, s);
  }

  /**
   * Runs {@code command} inside the deployment's slot, after what is running now and before the
   * next reconcile; a reconcile follows it. The returned future completes with the command's.
   */
  public <T> Future<T> submit(String key, Supplier<Future<T>> command) {
    Promise<T> done = Promise.promise();
    if (stopped) {
      done.fail(new IllegalStateException("the agent is stopping"));
      return done.future();
    }
    Slot s = slots.computeIfAbsent(key, k -> new Slot());
    s.commands.add(
        () -> {
          Future<T> f;
          try {
            f = command.get();
          } catch (RuntimeException e) {
            f = Future.failedFuture(e);
          }
          f.onComplete(done);
          return f;
        });
    s.dirty = true;
    drain(key, s);
    return done.future();
  }

  /** Completes when the deployment's slot has nothing running or waiting. */
  public Future<Void> idle(String key) {
    Slot s = slots.get(key);
    if (s == null || !s.running) {
      return Future.succeededFuture();
    }
    Promise<Void> p = Promise.promise();
    s.idleWaiters.add(p);
    return p.future();
  }

  /** Whether a command or reconcile of {@code key} runs now. */
  public boolean busy(String key) {
    Slot s = slots.get(key);
    return s != null && s.running;
  }

  /** Deployments with work running or waiting, for metrics. */
  public long depth() {
    return slots.values().stream().filter(s -> s.running || s.dirty).count();
  }

  public void stop() {
    stopped = true;
    for (Slot s : slots.values()) {
      if (s.timer >= 0) {
        vertx.cancelTimer(s.timer);
      }
    }
  }

  private void drain(String key, Slot s) {
    if (s.running || stopped) {
      return;
    }
    Supplier<Future<?>> command = s.commands.poll();
    if (command != null) {
      s.running = true;
      // The slot moves on only when the command's own work has completed.
      command
          .get()
          .onComplete(
              ar -> {
                s.running = false;
                drain(key, s);
              });
      return;
    }
    if (!s.dirty) {
      idle(key, s);
      return;
    }
    s.dirty = false;
    s.running = true;
    if (s.timer >= 0) {
      vertx.cancelTimer(s.timer);
      s.timer = -1;
    }
    Future<Next> f;
    try {
      f = reconcile.apply(key);
    } catch (RuntimeException e) {
      f = Future.failedFuture(e);
    }
    f.onComplete(
        ar -> {
          s.running = false;
          Next next = ar.succeeded() ? ar.result() : new Next.Done();
          if (next instanceof Next.Again && s.again++ < MAX_AGAIN) {
            s.dirty = true;
          } else if (next instanceof Next.After after && !s.dirty) {
            s.timer =
                vertx.setTimer(
                    Math.max(1, after.millis()),
                    id -> {
                      s.timer = -1;
                      enqueue(key);
                    });
          }
          drain(key, s);
        });
  }

  private void idle(String key, Slot s) {
    List<Promise<Void>> waiters = new ArrayList<>(s.idleWaiters);
    s.idleWaiters.clear();
    waiters.forEach(Promise::tryComplete);
    if (s.timer < 0 && s.commands.isEmpty() && !s.running && !s.dirty) {
      // Nothing to remember: the slot is made again by the next event.
      slots.remove(key);
    }
  }
}
