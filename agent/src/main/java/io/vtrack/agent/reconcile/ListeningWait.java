package io.vtrack.agent.reconcile;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.BooleanSupplier;

/** Waits, without blocking, until addresses accept TCP connections (what a revision listens on). */
final class ListeningWait {
  /** How often the addresses not yet accepting are tried again. */
  private static final long POLL_MILLIS = 25;

  private final Vertx vertx;
  private final NetClient client;
  private final Set<InetSocketAddress> waiting;
  private final long boundNanos;
  private final BooleanSupplier giveUp;
  private final Promise<Void> ready = Promise.promise();

  private ListeningWait(
      Vertx vertx, Set<InetSocketAddress> addresses, long boundNanos, BooleanSupplier giveUp) {
    this.vertx = vertx;
    this.client = vertx.createNetClient(new NetClientOptions().setConnectTimeout(1000));
    this.waiting = new HashSet<>(addresses);
    this.boundNanos = boundNanos;
    this.giveUp = giveUp;
  }

  /**
   * Completes when every one of {@code addresses} has accepted a connection, when {@code giveUp}
   * says so (tried before each attempt), or at {@code boundNanos} ({@link System#nanoTime}),
   * whichever comes first; never fails. Call on the context that is to go on from it.
   */
  static Future<Void> until(
      Vertx vertx, Set<InetSocketAddress> addresses, long boundNanos, BooleanSupplier giveUp) {
    if (addresses.isEmpty()) {
      return Future.succeededFuture();
    }
    ListeningWait w = new ListeningWait(vertx, addresses, boundNanos, giveUp);
    w.tryConnect();
    return w.ready.future().onComplete(v -> w.client.close());
  }

  private void tryConnect() {
    if (waiting.isEmpty() || giveUp.getAsBoolean() || System.nanoTime() >= boundNanos) {
      ready.tryComplete();
      return;
    }
    List<Future<?>> tries = new ArrayList<>();
    for (InetSocketAddress a : List.copyOf(waiting)) {
      tries.add(
          client
              .connect(a.getPort(), a.getHostString())
              .onSuccess(
                  socket -> {
                    socket.close();
                    waiting.remove(a);
                  }));
    }
    Future.join(tries)
        .onComplete(
            v -> {
              if (waiting.isEmpty()) {
                ready.tryComplete();
              } else {
                vertx.setTimer(POLL_MILLIS, id -> tryConnect());
              }
            });
  }
}
