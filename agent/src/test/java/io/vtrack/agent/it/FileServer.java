package io.vtrack.agent.it;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * A server on 127.0.0.1 answering fixed paths with fixed bodies (200) and anything else with 404: a
 * package registry or a download site that comes back, for the tests of a network that is away.
 */
final class FileServer implements AutoCloseable {
  private final HttpServer server;

  FileServer(int port, Map<String, String> files) throws IOException {
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
    server.createContext(
        "/",
        x -> {
          String body = files.get(x.getRequestURI().getPath());
          byte[] bytes = (body == null ? "{}" : body).getBytes(StandardCharsets.UTF_8);
          x.sendResponseHeaders(body == null ? 404 : 200, bytes.length);
          x.getResponseBody().write(bytes);
          x.close();
        });
    server.start();
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
