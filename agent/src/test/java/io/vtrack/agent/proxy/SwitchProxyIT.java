package io.vtrack.agent.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketConnectOptions;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The switch proxy on real sockets: it forwards to the live upstream with X-Forwarded headers,
 * switches atomically with an acknowledgement, answers 503 with Retry-After without a live one, and
 * keeps a WebSocket on the upstream it started on across a switch.
 */
class SwitchProxyIT {
  @TempDir Path dir;
  Vertx vertx;
  ProxySupervisor supervisor;
  int blue;
  int green;
  int publicPort;

  static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  /** An upstream that names itself and echoes the forwarded headers; /ws echoes its name. */
  HttpServer upstream(String name, int port) {
    return vertx
        .createHttpServer()
        .webSocketHandler(ws -> ws.textMessageHandler(m -> ws.writeTextMessage(name + ":" + m)))
        .requestHandler(
            req ->
                req.response()
                    .end(
                        name
                            + " xff="
                            + req.getHeader("X-Forwarded-For")
                            + " xfh="
                            + req.getHeader("X-Forwarded-Host")
                            + " xfp="
                            + req.getHeader("X-Forwarded-Proto")))
        .listen(port, "127.0.0.1")
        .await();
  }

  @BeforeEach
  void setUp() throws Exception {
    vertx = Vertx.vertx();
    Files.writeString(dir.resolve("api-token"), "t0ken\n");
    blue = freePort();
    green = freePort();
    publicPort = freePort();
    upstream("blue", blue);
    upstream("green", green);
    // The proxy runs in-process here; the agent's supervisor talks to it as to the real one.
    vertx.deployVerticle(new SwitchProxy(dir, "t0ken", "127.0.0.1:0")).await();
    supervisor = new ProxySupervisor(dir, "t0ken", true);
  }

  @AfterEach
  void tearDown() {
    vertx.close().await();
  }

  Routes.Route route(Integer upstream, String instance) {
    return new Routes.Route(
        "127.0.0.1:" + publicPort,
        "app",
        "web",
        upstream == null ? null : "127.0.0.1:" + upstream,
        instance,
        1000);
  }

  HttpResponse<String> get(String path) throws Exception {
    return HttpClient.newHttpClient()
        .send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + publicPort + path))
                .timeout(Duration.ofSeconds(10))
                .build(),
            HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void forwardsSwitchesAndSaysWhenNothingIsLive() throws Exception {
    Routes served = supervisor.switchTo(List.of(route(null, null)));
    assertThat(served.version()).isEqualTo(1);
    HttpResponse<String> none = get("/");
    assertThat(none.statusCode()).isEqualTo(503);
    assertThat(none.headers().firstValue("Retry-After")).contains("1");

    supervisor.switchTo(List.of(route(blue, "blue")));
    HttpResponse<String> r = get("/x");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body())
        .startsWith("blue")
        .contains("xff=127.0.0.1")
        .contains("xfh=127.0.0.1:" + publicPort)
        .contains("xfp=http");

    // Acknowledged: the very next request goes to the new upstream.
    supervisor.switchTo(List.of(route(green, "green")));
    assertThat(get("/").body()).startsWith("green");
    assertThat(Routes.read(Routes.file(dir)).version()).isEqualTo(3);
    assertThat(supervisor.status().get("version")).isEqualTo(3);
  }

  @Test
  void aWebSocketStaysOnTheInstanceItStartedOnAcrossASwitch() throws Exception {
    supervisor.switchTo(List.of(route(blue, "blue")));
    WebSocketClient client = vertx.createWebSocketClient();
    List<String> got = new CopyOnWriteArrayList<>();
    var ws =
        client
            .connect(
                new WebSocketConnectOptions()
                    .setHost("127.0.0.1")
                    .setPort(publicPort)
                    .setURI("/ws"))
            .toCompletionStage()
            .toCompletableFuture()
            .get(10, TimeUnit.SECONDS);
    ws.textMessageHandler(got::add);
    ws.writeTextMessage("one");
    await().atMost(Duration.ofSeconds(10)).until(() -> got.contains("blue:one"));
    supervisor.switchTo(List.of(route(green, "green")));
    ws.writeTextMessage("two");
    await().atMost(Duration.ofSeconds(10)).until(() -> got.contains("blue:two"));
    assertThat(get("/").body()).startsWith("green");
  }
}
