package io.vtrack.agent.check;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.equalTo;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpServer;
import io.vtrack.agent.model.CheckSpec;
import io.vtrack.agent.model.Interval;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The http check against real servers whose answers never end. */
public class HttpCheckTest {
  private final Vertx vertx = Vertx.vertx();

  @AfterEach
  void close() {
    vertx.close().await();
  }

  /**
   * A server whose answer to every request is a stream without end: its head at once, then a few
   * bytes every 10 ms (an event stream, say); counts the streams whose client went away. Returns
   * its URL.
   */
  public static String endless(Vertx vertx, AtomicInteger brokenOff) {
    HttpServer s =
        vertx
            .createHttpServer()
            .requestHandler(
                req -> {
                  req.response().setChunked(true).putHeader("Content-Type", "text/event-stream");
                  long id = vertx.setPeriodic(10, t -> req.response().write("data: x\n\n"));
                  req.connection()
                      .closeHandler(
                          v -> {
                            vertx.cancelTimer(id);
                            brokenOff.incrementAndGet();
                          });
                })
            .listen(0, "127.0.0.1")
            .await();
    return "http://127.0.0.1:" + s.actualPort() + "/events";
  }

  /** An http check of {@code url} with {@code timeout} and no expectations but status 200. */
  public static HttpCheck check(String name, String url, String timeout, HttpClient client) {
    CheckSpec spec =
        new CheckSpec(
            name,
            Interval.parse(timeout),
            new CheckSpec.Http(url, null, null, null, null, null),
            null,
            null,
            null,
            null,
            null);
    return new HttpCheck(spec, url, Map.of(), client);
  }

  @Test
  void anAnswerThatNeverEndsIsUnansweredAtTheTimeoutAndBrokenOff() throws Exception {
    // The timeout is for the whole answer, not for a pause in it: with only an idle timeout the
    // check went on reading (up to maxBodyBytes, 1 MiB: hours at this pace), every round adding a
    // connection that stayed open after the round had given up on it.
    AtomicInteger brokenOff = new AtomicInteger();
    String url = endless(vertx, brokenOff);
    CheckResult r =
        check("events", url, "3s", CheckFactory.httpClient(vertx))
            .run()
            .toCompletionStage()
            .toCompletableFuture()
            .get(60, TimeUnit.SECONDS);
    assertThat(r.passing()).isFalse();
    assertThat(r.failure()).isEqualTo(Failure.Unanswered);
    assertThat(r.message()).isEqualTo("200, but the answer did not end within 3s");
    await().atMost(Duration.ofSeconds(30)).untilAtomic(brokenOff, equalTo(1));
  }

  /**
   * Checks run from a thread of no Vert.x context (a test's, a CLI's) each read their whole answer.
   * The answer was read in a callback chained after the request's, which Vert.x may then run on
   * another turn, after the connection had read the answer to its end and dropped the body unseen:
   * about one check in a thousand on a busy machine waited out its timeout, or failed with an
   * IllegalStateException.
   */
  @Test
  void checksRunFromAPlainThreadAllReadTheirAnswer() throws Exception {
    HttpServer s =
        vertx
            .createHttpServer()
            .requestHandler(req -> req.response().end("ok"))
            .listen(0, "127.0.0.1")
            .await();
    HttpCheck c =
        check(
            "plain",
            "http://127.0.0.1:" + s.actualPort() + "/",
            "5s",
            CheckFactory.httpClient(vertx));
    int notPassed = 0;
    String first = null;
    for (int i = 0; i < 3000; i++) {
      CheckResult r = c.run().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
      if (r.status() != CheckStatus.Passing) {
        notPassed++;
        first = first == null ? r.message() : first;
      }
    }
    assertThat(notPassed).as("checks not passed, the first: %s", first).isZero();
  }
}
