package io.vtrack.agent.reconcile;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpServer;
import io.vtrack.agent.check.FileGrowth;
import io.vtrack.agent.check.HealthCheck;
import io.vtrack.agent.check.HttpCheck;
import io.vtrack.agent.check.HttpCheckTest;
import io.vtrack.agent.model.HealthPolicy;
import io.vtrack.agent.model.Interval;
import io.vtrack.agent.model.Reason;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A request that is sent and never answered, on real HTTP servers (DESIGN.md §2, check semantics):
 * while the same app answers another check, the hanging endpoint is a wrong answer and fails the
 * rollout after {@code startupFailureThreshold} rounds instead of waiting out {@code
 * startupTimeout}; an app that answers nothing yet is not ready and is waited for.
 */
class UnansweredRequestTest {
  private final Vertx vertx = Vertx.vertx();
  private final HttpClient client = vertx.createHttpClient();
  private final FileGrowth files = new FileGrowth();

  @AfterEach
  void close() throws Exception {
    files.close();
    vertx.close().await();
  }

  /** A server answering {@code /health} at once and holding every other request unanswered. */
  private int server(boolean healthAnswers) {
    HttpServer s =
        vertx
            .createHttpServer()
            .requestHandler(
                req -> {
                  if (healthAnswers && req.path().equals("/health")) {
                    req.response().end("ok");
                  }
                })
            .listen(0, "127.0.0.1")
            .await();
    return s.actualPort();
  }

  /** A check with a 1 s timeout: room for a busy machine to answer /health in time. */
  private HttpCheck check(String name, String url) {
    return HttpCheckTest.check(name, url, "1s", client);
  }

  private Verification.Outcome verify(String startupTimeout, HealthCheck... checks)
      throws Exception {
    HealthPolicy policy =
        new HealthPolicy(
            Interval.parse(startupTimeout),
            Interval.parse("10ms"),
            Interval.parse("1h"),
            3,
            2,
            List.of());
    return VerificationTest.runOn(
        vertx, files, policy, Verification.Mode.VERIFY, List::of, r -> {}, checks);
  }

  @Test
  void anEndpointThatHangsWhileTheAppAnswersFailsTheRolloutWithoutWaitingForStartupTimeout()
      throws Exception {
    int port = server(true);
    String base = "http://127.0.0.1:" + port;
    Verification.Outcome o =
        verify("1h", check("health", base + "/health"), check("sources", base + "/api/sources"));
    assertThat(o.healthy()).isFalse();
    assertThat(o.reason()).isEqualTo(Reason.ChecksFailed);
    assertThat(o.rounds()).isEqualTo(2);
    assertThat(o.message())
        .contains("sources: no response within 1s")
        .contains("while 127.0.0.1:" + port + " answered health");
  }

  @Test
  void anAppThatAnswersNothingYetIsWaitedForUntilStartupTimeout() throws Exception {
    int port = server(false);
    String base = "http://127.0.0.1:" + port;
    Verification.Outcome o =
        verify("3s", check("health", base + "/health"), check("sources", base + "/api/sources"));
    assertThat(o.reason()).isEqualTo(Reason.StartupTimeout);
    assertThat(o.rounds()).isGreaterThan(1);
  }

  @Test
  void anAnswerOnAnotherAddressDoesNotMakeAHangWrong() throws Exception {
    String hanging = "http://127.0.0.1:" + server(false);
    String answering = "http://127.0.0.1:" + server(true);
    Verification.Outcome o =
        verify(
            "3s", check("frontend", answering + "/health"), check("backend", hanging + "/health"));
    assertThat(o.reason()).isEqualTo(Reason.StartupTimeout);
  }
}
