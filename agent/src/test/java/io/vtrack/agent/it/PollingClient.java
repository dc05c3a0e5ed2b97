package io.vtrack.agent.it;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A user of the app: asks a public address every 20 ms, as a browser tab polling an API would, and
 * counts the answers that were not a 200 (or never came).
 */
final class PollingClient implements AutoCloseable {
  final AtomicInteger ok = new AtomicInteger();
  final List<String> failures = new CopyOnWriteArrayList<>();

  /** The longest any answer took, in milliseconds. */
  volatile long slowestMillis;

  private final Thread thread;
  private volatile boolean stop;

  PollingClient(String url) {
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    thread =
        new Thread(
            () -> {
              while (!stop) {
                long t0 = System.nanoTime();
                try {
                  HttpResponse<String> r =
                      http.send(
                          HttpRequest.newBuilder(URI.create(url))
                              .timeout(Duration.ofSeconds(5))
                              .build(),
                          HttpResponse.BodyHandlers.ofString());
                  if (r.statusCode() == 200) {
                    ok.incrementAndGet();
                  } else {
                    failures.add(r.statusCode() + " " + r.body().strip());
                  }
                } catch (Exception e) {
                  failures.add(e.getClass().getSimpleName() + ": " + e.getMessage());
                }
                slowestMillis = Math.max(slowestMillis, (System.nanoTime() - t0) / 1_000_000);
                long left = 20 - (System.nanoTime() - t0) / 1_000_000;
                if (left > 0) {
                  try {
                    Thread.sleep(left);
                  } catch (InterruptedException e) {
                    return;
                  }
                }
              }
            },
            "polling-client");
    thread.setDaemon(true);
    thread.start();
  }

  @Override
  public void close() throws InterruptedException {
    stop = true;
    thread.join(10_000);
  }

  /** "178 ok, 2 failed (502 x2)": the count of each kind of failure, not every one. */
  @Override
  public String toString() {
    java.util.Map<String, Long> kinds =
        failures.stream()
            .map(f -> f.length() > 60 ? f.substring(0, 60) : f)
            .collect(
                java.util.stream.Collectors.groupingBy(
                    f -> f, java.util.TreeMap::new, java.util.stream.Collectors.counting()));
    return ok.get()
        + " ok, "
        + failures.size()
        + " failed "
        + kinds
        + ", slowest "
        + slowestMillis
        + " ms";
  }
}
