package io.vtrack.agent;

import io.vertx.core.Future;
import io.vertx.core.http.HttpClientRequest;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** The answers to the agent's own HTTP requests (checks, notifications). */
public final class HttpAnswers {
  private HttpAnswers() {}

  /**
   * {@code answer} (of {@code req}) within {@code ms}, else a {@link TimeoutException} and {@code
   * req} reset, which closes its connection: the request's own timeouts are for a pause in the
   * answer, so one that streams without end would hold its connection for good.
   */
  public static <T> Future<T> within(Future<T> answer, long ms, HttpClientRequest req) {
    return answer
        .timeout(ms, TimeUnit.MILLISECONDS)
        .onFailure(
            err -> {
              if (err instanceof TimeoutException) {
                req.reset();
              }
            });
  }
}
