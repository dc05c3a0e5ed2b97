package io.vtrack.agent.proxy;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/**
 * The build's training run of a switch proxy for its class-data archive ({@code vtrack-proxy.jsa},
 * see {@link ProxySupervisor}): one route to a throwaway app, and requests through it, so that what
 * a proxy loads to give its first answers is archived too, not only what it loads to start. A proxy
 * the agent restarts after a crash then serves sooner.
 */
public final class ProxyTraining {
  private static final int REQUESTS = 200;

  private ProxyTraining() {}

  /**
   * Before the proxy starts: a throwaway app on a free loopback port, and the one route to it in
   * {@code stateDir} (a scratch folder). Returns the route's public port.
   */
  public static int prepare(Vertx vertx, Path stateDir) throws Exception {
    HttpServer app =
        vertx
            .createHttpServer()
            .requestHandler(r -> r.body().onComplete(b -> r.response().end("ok")))
            .listen(0, "127.0.0.1")
            .await();
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    new Routes(
            1,
            List.of(
                new Routes.Route(
                    "127.0.0.1:" + port,
                    "training",
                    "web",
                    "127.0.0.1:" + app.actualPort(),
                    "blue",
                    0,
                    false)))
        .write(Routes.file(stateDir));
    return port;
  }

  /**
   * Once the proxy serves: requests through it, with and without a body, each on its own connection
   * with a 5 s limit. Best effort: the first that fails ends the training (the archive then holds
   * less, nothing else changes).
   */
  public static void exercise(int port) {
    for (int i = 0; i < REQUESTS; i++) {
      String request =
          i % 2 == 0
              ? "GET / HTTP/1.1\r\nHost: training\r\nConnection: close\r\n\r\n"
              : "POST / HTTP/1.1\r\nHost: training\r\nContent-Length: 6\r\n"
                  + "Connection: close\r\n\r\na body";
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 5000);
        s.setSoTimeout(5000);
        s.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
        s.getInputStream().readAllBytes();
      } catch (IOException e) {
        System.err.println("proxy training stopped after " + i + " requests: " + e);
        return;
      }
    }
  }
}
