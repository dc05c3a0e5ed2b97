package io.vtrack.agent.api;

import io.vertx.core.buffer.Buffer;
import io.vertx.ext.web.Router;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;

/**
 * The read-only status page: three files of the agent's jar, read once and served from memory.
 * Nothing is unpacked to disk (Vert.x's classpath resolving would make a {@code vertx-cache-*}
 * folder in /tmp that a killed agent leaves behind), and no path of a request reaches a file.
 */
final class StatusPage {
  private record File(Buffer body, String contentType) {}

  private static final Map<String, File> FILES =
      Map.of(
          "/", read("index.html", "text/html; charset=utf-8"),
          "/static/app.js", read("app.js", "text/javascript; charset=utf-8"),
          "/static/style.css", read("style.css", "text/css; charset=utf-8"));

  private StatusPage() {}

  static void mount(Router router) {
    FILES.forEach(
        (path, f) ->
            router
                .get(path)
                .handler(
                    rc ->
                        rc.response()
                            .putHeader("Content-Type", f.contentType())
                            .putHeader("Cache-Control", "no-cache")
                            .end(f.body())));
  }

  private static File read(String name, String contentType) {
    try (InputStream in = StatusPage.class.getResourceAsStream("/webroot/" + name)) {
      if (in == null) {
        throw new IllegalStateException("webroot/" + name + " is missing from the jar");
      }
      return new File(Buffer.buffer(in.readAllBytes()), contentType);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
