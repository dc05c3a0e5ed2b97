package io.vtrack.agent.check;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.RequestOptions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The HTTP client checks share, against a real server. */
class CheckFactoryTest {
  private final Vertx vertx = Vertx.vertx();

  @AfterEach
  void close() {
    vertx.close().await();
  }

  @Test
  void aRoundsChecksOfOneAddressAreAllSentAtOnce() throws Exception {
    // A server that answers only once it holds 20 requests: checks that waited for one another
    // (a pool of 5 a host, Vert.x's default) would never get there and time out unsent.
    int checks = 20;
    List<HttpServerRequest> held = new ArrayList<>();
    HttpServer server =
        vertx
            .createHttpServer()
            .requestHandler(
                req -> {
                  held.add(req);
                  if (held.size() == checks) {
                    held.forEach(r -> r.response().end("ok"));
                  }
                })
            .listen(0, "127.0.0.1")
            .await();
    HttpClient client = CheckFactory.httpClient(vertx);
    List<Future<Integer>> answers = new ArrayList<>();
    for (int i = 0; i < checks; i++) {
      answers.add(
          client
              .request(
                  new RequestOptions()
                      .setMethod(HttpMethod.GET)
                      .setAbsoluteURI("http://127.0.0.1:" + server.actualPort() + "/")
                      .setTimeout(10_000))
              .compose(req -> req.send())
              .map(HttpClientResponse::statusCode));
    }
    List<Integer> codes =
        Future.all(answers)
            .map(all -> all.<Integer>list())
            .toCompletionStage()
            .toCompletableFuture()
            .get(60, TimeUnit.SECONDS);
    assertThat(codes).hasSize(checks).containsOnly(200);
  }
}
