package io.vtrack.agent.api;

import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.ext.web.RoutingContext;

/**
 * Reads a request's body as the bytes that came, whatever its {@code Content-Type}, up to a limit
 * (413 beyond it). Vert.x Web's body handler decodes a form-encoded body as a form and refuses one
 * over 1 KB: GitHub's webhooks are form-encoded unless set to JSON (their signature is over the raw
 * bytes), and curl's {@code -d} labels a JSON body as a form too.
 */
final class RawBody implements Handler<RoutingContext> {
  private static final String KEY = "vtrack.rawBody";

  private final int limit;

  private RawBody(int limit) {
    this.limit = limit;
  }

  /** Reads at most {@code limit} bytes of body. */
  static RawBody upTo(int limit) {
    return new RawBody(limit);
  }

  /** The body read for this request (empty when it had none). */
  static Buffer of(RoutingContext rc) {
    Buffer b = rc.get(KEY);
    return b == null ? Buffer.buffer() : b;
  }

  @Override
  public void handle(RoutingContext rc) {
    HttpServerRequest req = rc.request();
    if (req.isEnded()) {
      // Only the first handlers of a route run before the request is read: nothing is left to read.
      rc.fail(new IllegalStateException("the body was read before RawBody ran"));
      return;
    }
    long declared = declaredLength(req);
    if (declared > limit) {
      tooLarge(rc);
      return;
    }
    if ("100-continue".equalsIgnoreCase(req.getHeader("Expect"))) {
      rc.response().writeContinue();
    }
    Buffer body = Buffer.buffer();
    boolean[] over = {false};
    req.handler(
        chunk -> {
          if (over[0]) {
            return;
          }
          if (body.length() + chunk.length() > limit) {
            over[0] = true;
            tooLarge(rc);
            return;
          }
          body.appendBuffer(chunk);
        });
    req.exceptionHandler(
        err -> {
          if (!over[0]) {
            over[0] = true;
            rc.fail(new ApiError(400, "BadRequest", "reading the body failed: " + err));
          }
        });
    req.endHandler(
        v -> {
          if (!over[0]) {
            rc.put(KEY, body);
            rc.next();
          }
        });
    req.resume();
  }

  /** How much of a refused body is still read (and dropped) before the connection is closed. */
  static final long DISCARD_BYTES = 8L << 20;

  /** How long a refused body is still read before the connection is closed. */
  static final long DISCARD_MILLIS = 2_000;

  /**
   * Answers 413 ({@code Connection: close}) and closes the connection once the rest of the body is
   * read and dropped, at most {@link #DISCARD_BYTES} more of it or for {@link #DISCARD_MILLIS}. A
   * socket closed while the client still sends is reset, and the reset can discard the 413 before
   * the client reads it (hence the lingering close, as web servers do); an endless body is not read
   * for ever.
   */
  private static void tooLarge(RoutingContext rc) {
    HttpServerRequest req = rc.request();
    rc.response().putHeader("Connection", "close");
    if (!req.isEnded()) {
      long[] dropped = {0};
      long timer = rc.vertx().setTimer(DISCARD_MILLIS, id -> req.connection().close());
      req.connection().closeHandler(v -> rc.vertx().cancelTimer(timer));
      req.handler(
          chunk -> {
            dropped[0] += chunk.length();
            if (dropped[0] > DISCARD_BYTES) {
              req.connection().close();
            }
          });
      req.endHandler(v -> req.connection().close());
      req.resume();
    }
    rc.fail(413);
  }

  private static long declaredLength(HttpServerRequest req) {
    String cl = req.getHeader("Content-Length");
    if (cl == null) {
      return -1;
    }
    try {
      return Long.parseLong(cl.trim());
    } catch (NumberFormatException e) {
      return -1;
    }
  }
}
