package io.vtrack.agent.notify;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.equalTo;

import io.vertx.core.Vertx;
import io.vtrack.agent.check.HttpCheckTest;
import io.vtrack.agent.store.StateStore;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Webhook delivery against a real server. */
class NotifierTest {
  private final Vertx vertx = Vertx.vertx();

  @AfterEach
  void close() {
    vertx.close().await();
  }

  /**
   * A webhook that answers 200 and then streams without end: the notification counts as sent at its
   * status, and its connection is broken off once the answer has not ended in time. Before, it
   * stayed open for as long as the webhook wrote, one more at every notification.
   */
  @Test
  void aWebhookAnswerThatNeverEndsIsSentAndBrokenOff(@TempDir Path dir) throws Exception {
    AtomicInteger brokenOff = new AtomicInteger();
    String url = HttpCheckTest.endless(vertx, brokenOff);
    try (StateStore store = StateStore.open(dir)) {
      Notifier n =
          new Notifier(vertx, vertx.createHttpClient(), store, "agent", "http://127.0.0.1/", 500);
      // On an event loop, as the agent delivers.
      vertx.runOnContext(v -> n.deliver("app", null, url, "{}", 1));
      await()
          .atMost(Duration.ofSeconds(20))
          .until(
              () ->
                  store.events().of("app", 10).stream()
                      .map(e -> e.get("type"))
                      .anyMatch("NotificationSent"::equals));
      await().atMost(Duration.ofSeconds(20)).untilAtomic(brokenOff, equalTo(1));
      Map<String, String> sent = store.events().of("app", 10).get(0);
      assertThat(sent.get("message")).contains("answered 200 (attempt 1)");
    }
  }
}
