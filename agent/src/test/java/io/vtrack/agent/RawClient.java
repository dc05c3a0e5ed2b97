package io.vtrack.agent;

import static org.awaitility.Awaitility.await;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** HTTP on a bare socket, for what a well-behaved client never sends. */
public final class RawClient {
  private RawClient() {}

  public static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.ISO_8859_1);
  }

  /** Everything the peer sends on {@code s} until it closes (a reset ends it too). */
  public static CompletableFuture<String> readUntilClosed(Socket s) {
    return CompletableFuture.supplyAsync(
        () -> {
          var got = new ByteArrayOutputStream();
          try {
            var in = s.getInputStream();
            byte[] buf = new byte[4096];
            for (int n; (n = in.read(buf)) >= 0; ) {
              got.write(buf, 0, n);
            }
          } catch (IOException e) {
            // Reset: closed all the same.
          }
          return got.toString(StandardCharsets.ISO_8859_1);
        },
        r -> {
          Thread t = new Thread(r, "read-until-closed");
          t.setDaemon(true);
          t.start();
        });
  }

  /** What a slowloris client got, and how long its connection lasted. */
  public record Trickled(String answer, Duration lasted) {}

  /**
   * Slowloris: a request head that never ends, a header every 100 ms, until the server closes the
   * connection (at most 10 s).
   */
  public static Trickled trickleHead(int port) throws Exception {
    try (Socket s = new Socket("127.0.0.1", port)) {
      long start = System.nanoTime();
      OutputStream out = s.getOutputStream();
      var answer = readUntilClosed(s);
      out.write(bytes("GET / HTTP/1.1\r\nHost: x\r\n"));
      await()
          .atMost(Duration.ofSeconds(10))
          .pollInterval(Duration.ofMillis(100))
          .until(
              () -> {
                try {
                  out.write(bytes("X-Slow: 1\r\n"));
                  out.flush();
                } catch (IOException e) {
                  return true;
                }
                return answer.isDone();
              });
      return new Trickled(
          answer.get(10, TimeUnit.SECONDS), Duration.ofNanos(System.nanoTime() - start));
    }
  }

  /**
   * Sends {@code request} on a connection of its own; what came back until the server closed (at
   * most 30 s: a busy machine may be slow to answer).
   */
  public static String exchange(int port, String request) throws Exception {
    try (Socket s = new Socket("127.0.0.1", port)) {
      var answer = readUntilClosed(s);
      s.getOutputStream().write(bytes(request));
      return answer.get(30, TimeUnit.SECONDS);
    }
  }
}
