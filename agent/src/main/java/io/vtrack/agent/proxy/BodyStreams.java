package io.vtrack.agent.proxy;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;

/**
 * The bodies the proxy streams, each with back-pressure: the client's body to the app, and the
 * app's answer back to the client, as they come.
 */
final class BodyStreams {
  private BodyStreams() {}

  /**
   * The client's body to the app, with back-pressure, as {@code creq.send(req)} pipes it, except
   * when the app's side is over first: an app that answers without reading the body (a 401, a 413,
   * a 501 to a method it lacks) and closes, or a connection that broke. The rest of the body is
   * then read and dropped, so that the client's connection stays usable; a pipe would go on writing
   * to the finished request, which Vert.x refuses with an exception at every chunk.
   */
  static Future<HttpClientResponse> send(HttpServerRequest req, HttpClientRequest creq) {
    boolean[] over = {false};
    Runnable drop =
        () -> {
          if (!over[0]) {
            over[0] = true;
            req.resume();
          }
        };
    creq.exceptionHandler(err -> drop.run());
    req.exceptionHandler(err -> creq.reset());
    req.handler(
        buf -> {
          if (over[0]) {
            return;
          }
          try {
            creq.write(buf);
            if (creq.writeQueueFull()) {
              req.pause();
              creq.drainHandler(v -> req.resume());
            }
          } catch (IllegalStateException e) {
            drop.run(); // the request to the app is complete: it takes nothing more
          }
        });
    req.endHandler(
        v -> {
          if (!over[0]) {
            creq.end();
          }
        });
    req.resume();
    return creq.response();
  }

  /**
   * The app's answer to the client: its status and end-to-end headers, then its body streamed as it
   * comes (chunked when the app gave no length).
   */
  static void answer(Context context, HttpServerRequest req, HttpClientResponse cresp) {
    var resp = req.response();
    resp.setStatusCode(cresp.statusCode());
    resp.setStatusMessage(cresp.statusMessage());
    ProxyHttp.copyEndToEnd(cresp.headers(), resp.headers());
    if (cresp.getHeader("Content-Length") == null && ProxyHttp.hasBody(req, cresp.statusCode())) {
      resp.setChunked(true);
    }
    // A pipe, but an answer the app broke off is broken off to the client too (a chunked one ended
    // here would look whole to it), and nothing is written once the client has left (a pipe then
    // logs an error for every chunk still on its way).
    Outgoing out = new Outgoing(context, resp, cresp);
    cresp.handler(out::add);
    cresp.exceptionHandler(
        err -> {
          out.drop();
          if (!resp.closed() && !resp.ended()) {
            resp.reset();
          }
        });
    cresp.endHandler(v -> out.end());
  }

  /**
   * What one read from the app brought, written to the client at once when that read is over: an
   * answer that came whole (head, body and a chunked end) leaves in one write, not a write for the
   * head and body and another for the end, each of which would wake the client. An event stream's
   * events still go out as they come, and a long body in writes of at most {@link #COALESCE_BYTES}.
   */
  private static final class Outgoing {
    private final Context context;
    private final HttpServerResponse resp;
    private final HttpClientResponse cresp;
    private Buffer pending;
    private boolean owned;
    private boolean scheduled;

    Outgoing(Context context, HttpServerResponse resp, HttpClientResponse cresp) {
      this.context = context;
      this.resp = resp;
      this.cresp = cresp;
    }

    private boolean open() {
      return !resp.closed() && !resp.ended();
    }

    void add(Buffer chunk) {
      if (!open()) {
        return;
      }
      if (pending == null) {
        pending = chunk;
        owned = false;
      } else {
        if (!owned) {
          // The app's chunk is not ours to grow: a buffer of our own holds them together.
          pending = Buffer.buffer(pending.length() + chunk.length()).appendBuffer(pending);
          owned = true;
        }
        pending.appendBuffer(chunk);
      }
      if (pending.length() >= COALESCE_BYTES) {
        flush();
      } else if (!scheduled) {
        // Tasks run once the event loop has handled the reads it was woken for; one at a time.
        scheduled = true;
        context.runOnContext(
            v -> {
              scheduled = false;
              flush();
            });
      }
    }

    private void flush() {
      if (pending == null || !open()) {
        pending = null;
        return;
      }
      resp.write(pending);
      pending = null;
      if (resp.writeQueueFull()) {
        cresp.pause();
        resp.drainHandler(v -> cresp.resume());
      }
    }

    void end() {
      if (open()) {
        if (pending == null) {
          resp.end();
        } else {
          resp.end(pending);
        }
      }
      pending = null;
    }

    void drop() {
      pending = null;
    }
  }

  /** Bytes of an answer held for one write at most; more go out at once. */
  static final int COALESCE_BYTES = 64 * 1024;
}
