package io.vtrack.agent.proxy;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.net.NetSocket;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One event loop's share of the proxy: it binds every public address of the {@link RouteTable} (the
 * kernel spreads connections over the forwarders that share a port) and forwards each request to
 * the upstream the table names when the request arrives.
 */
final class Forwarder extends VerticleBase {
  private static final Logger LOG = LoggerFactory.getLogger(Forwarder.class);

  private final RouteTable table;
  private final AnswerCounters answered;
  private final long headTimeoutMillis;
  private final Map<String, HttpServer> servers = new HashMap<>();
  private HttpClient client;

  /** The requests waiting on held routes, on this forwarder's event loop. */
  private HeldRequests held;

  /**
   * A client connection must deliver a whole request head this long after it opens or after its
   * previous answer ends (nginx's {@code client_header_timeout} and {@code keepalive_timeout} are
   * 60 s and 75 s), else it is closed: a slowloris client, or one idle between requests.
   */
  static final long HEAD_TIMEOUT_MILLIS = 60_000;

  private HeadDeadlines deadlines;

  Forwarder(RouteTable table, long headTimeoutMillis) {
    this.table = table;
    this.headTimeoutMillis = headTimeoutMillis;
    this.answered = new AnswerCounters(table);
  }

  @Override
  public Future<?> start() {
    held = new HeldRequests(vertx, table);
    client =
        vertx.createHttpClient(
            // Quick ACKs (epoll): an app that writes its head and body apart under Nagle (Python's
            // http.server) would otherwise wait for the proxy's delayed ACK on every answer.
            new HttpClientOptions().setKeepAlive(true).setTcpNoDelay(true).setTcpQuickAck(true),
            new PoolOptions().setHttp1MaxSize(128));
    String address = "vtrack.proxy.sync." + deploymentID() + "." + System.identityHashCode(this);
    // The reply says why each address this forwarder could not listen on failed, a line each
    // (null: none).
    vertx
        .eventBus()
        .<Void>localConsumer(
            address,
            msg ->
                sync()
                    .onComplete(
                        ar ->
                            msg.reply(
                                ar.result().isEmpty() ? null : String.join("\n", ar.result()))));
    table.forwarders.add(address);
    // An address that was taken is tried again every second: served once it is free.
    vertx.setPeriodic(
        LISTEN_RETRY_MILLIS,
        id -> {
          if (!table.listenErrors.isEmpty()) {
            sync();
          }
        });
    deadlines = new HeadDeadlines(vertx, headTimeoutMillis);
    return sync();
  }

  private static final long LISTEN_RETRY_MILLIS = 1000;

  /**
   * Binds the addresses the table lists and closes the others; requests held on a route that is no
   * longer held go on to what it names now. Completes with why each address it could not listen on
   * failed ("cannot listen on 127.0.0.1:18080: Address already in use"), empty when all listen.
   */
  Future<List<String>> sync() {
    held.release(this::dispatch);
    List<Future<HttpServer>> all = new ArrayList<>();
    for (String listen : table.routes().keySet()) {
      if (!servers.containsKey(listen)) {
        all.add(bind(listen));
      }
    }
    for (String listen : List.copyOf(servers.keySet())) {
      if (table.route(listen) == null) {
        servers.remove(listen).close();
      }
    }
    table.listenErrors.keySet().retainAll(table.routes().keySet());
    return Future.join(all)
        .transform(
            ar -> {
              List<String> failed = new ArrayList<>();
              for (Future<HttpServer> f : all) {
                if (f.failed()) {
                  failed.add(f.cause().getMessage());
                }
              }
              return Future.succeededFuture(failed);
            });
  }

  private Future<HttpServer> bind(String listen) {
    int colon = listen.lastIndexOf(':');
    HttpServer server =
        vertx.createHttpServer(
            new HttpServerOptions()
                .setIdleTimeout(300)
                .setTcpNoDelay(true)
                .setTcpQuickAck(true)
                .setReuseAddress(true)
                // HTTP/1.1 to the app: a client's h2c upgrade is answered in HTTP/1.1.
                .setHttp2ClearTextEnabled(false)
                // A WebSocket is tunnelled as bytes between client and app, which negotiate any
                // compression themselves: no extension handler in every connection's pipeline.
                .setPerMessageWebSocketCompressionSupported(false)
                .setPerFrameWebSocketCompressionSupported(false));
    server.requestHandler(
        deadlines.track(
            server,
            req -> {
              ProxyHttp.Refusal refusal = ProxyHttp.refusal(req);
              if (refusal != null) {
                ProxyHttp.refuse(req, refusal);
              } else {
                dispatch(req, listen);
              }
            }));
    servers.put(listen, server);
    return server
        .listen(Integer.parseInt(listen.substring(colon + 1)), listen.substring(0, colon))
        .onSuccess(
            s -> {
              if (table.listenErrors.remove(listen) != null) {
                LOG.info("switch proxy: listening on {} now", listen);
              }
            })
        .recover(
            err -> {
              servers.remove(listen);
              String why = "cannot listen on " + listen + ": " + err.getMessage();
              if (!why.equals(table.listenErrors.put(listen, why))) {
                LOG.error("switch proxy: {} (tried again every second)", why);
              }
              return Future.failedFuture(why);
            });
  }

  /** Sends a request where the route of {@code listen} says now, or holds it there. */
  private void dispatch(HttpServerRequest req, String listen) {
    Routes.Route r = table.route(listen);
    boolean webSocket = "websocket".equalsIgnoreCase(req.getHeader("Upgrade"));
    if (r != null && r.held() && !webSocket && !req.response().closed()) {
      held.hold(req, listen);
      return;
    }
    if (r == null || r.upstream() == null) {
      ProxyHttp.unavailable(req, r);
      return;
    }
    if (webSocket) {
      // Any other upgrade (h2c from Java's HTTP client, say) is declined by forwarding the
      // request as HTTP/1.1 without it.
      tunnel(req, r);
    } else {
      forward(req, r);
    }
  }

  /**
   * Plain HTTP/1.1: the request streams to the upstream the route names now, the answer streams
   * back (chunked bodies and event streams as they come), each on a pooled keep-alive connection.
   */
  private void forward(HttpServerRequest req, Routes.Route r) {
    Runnable done = inflight(r.upstream());
    // The request to the app while its answer is under way: a client gone before it ended resets
    // it, which closes the app's connection and so tells it to stop (nginx does the same).
    HttpClientRequest[] on = {null};
    var resp = req.response();
    resp.endHandler(v -> done.run());
    resp.closeHandler(
        v -> {
          done.run();
          if (on[0] != null) {
            on[0].reset();
            on[0] = null;
          }
        });
    req.pause();
    send(req, r, on, 0);
  }

  private void send(HttpServerRequest req, Routes.Route r, HttpClientRequest[] on, int tried) {
    client
        .request(ProxyHttp.upstreamRequest(req, r.upstream()))
        .onFailure(err -> badGateway(req, r, err))
        .onSuccess(
            creq -> {
              if (req.response().closed()) {
                creq.reset();
                return;
              }
              on[0] = creq;
              exchange(req, r, on, creq, tried);
            });
  }

  private void exchange(
      HttpServerRequest req,
      Routes.Route r,
      HttpClientRequest[] on,
      HttpClientRequest creq,
      int tried) {
    ProxyHttp.copyEndToEnd(req.headers(), creq.headers());
    ProxyHttp.forwardedHeaders(req, creq.headers());
    // A client that waits for "100 Continue" before its body gets it here, as nginx gives it: an
    // HTTP/1.0 app never sends one, and the proxy relays none, so the client would wait its own
    // timeout (curl: 1 s) on every such request.
    if (ProxyHttp.expectsContinue(req)) {
      creq.headers().remove("Expect");
      req.response().writeContinue();
    }
    // A request without a body goes without one: a chunked terminator after a GET is left unread
    // by an HTTP/1.0 app, whose close then resets the connection.
    Future<HttpClientResponse> sent;
    if (req.getHeader("Content-Length") != null) {
      sent = BodyStreams.send(req, creq);
    } else if ("chunked".equalsIgnoreCase(req.getHeader("Transfer-Encoding"))) {
      creq.setChunked(true);
      sent = BodyStreams.send(req, creq);
    } else {
      req.resume();
      sent = creq.send();
    }
    ProxyHttp.quickAck(creq.connection());
    sent.onFailure(err -> failed(req, r, on, creq, tried, err))
        .onSuccess(
            cresp -> {
              cresp.end().onComplete(ar -> on[0] = null);
              relay(req, r, cresp);
            });
  }

  /**
   * No answer came to {@code creq}. On a kept connection that served an answer before, the app most
   * likely closed it as the request went out (its keep-alive time ran out), which is not the app's
   * failure: a request without a body that may be sent twice (GET, HEAD, OPTIONS) goes again, on
   * another connection, as nginx sends it again (at most {@link #RETRIES} times); any other is
   * answered 502.
   */
  private void failed(
      HttpServerRequest req,
      Routes.Route r,
      HttpClientRequest[] on,
      HttpClientRequest creq,
      int tried,
      Throwable err) {
    on[0] = null;
    if (tried < RETRIES
        && ProxyHttp.servedBefore(creq.connection())
        && !req.response().headWritten()
        && !req.response().closed()
        && ProxyHttp.repeatable(req)) {
      send(req, r, on, tried + 1);
    } else {
      badGateway(req, r, err);
    }
  }

  /** Kept connections a request may find closed by the app in a row, before it is answered 502. */
  static final int RETRIES = 3;

  private void badGateway(HttpServerRequest req, Routes.Route r, Throwable err) {
    if (req.response().closed()) {
      // The client left first (its leaving reset the app's request): nobody to answer, and not
      // the app's failure to count.
      return;
    }
    answered.of(r, 502).increment();
    if (!req.response().headWritten()) {
      req.response()
          .setStatusCode(502)
          .putHeader("Content-Type", "text/plain")
          .end("the live instance of " + r.deployment() + "/" + r.service() + " did not answer\n");
    } else {
      req.response().reset();
    }
  }

  /**
   * Counts a request (or tunnel) on {@code up} as in flight, which a drain waits for; the returned
   * action ends the count, once however often it runs.
   */
  private Runnable inflight(String up) {
    AtomicInteger n = table.inflight(up);
    n.incrementAndGet();
    boolean[] counted = {true};
    return () -> {
      if (counted[0]) {
        counted[0] = false;
        n.decrementAndGet();
      }
    };
  }

  /**
   * A WebSocket: the handshake goes to the upstream live when it arrives; once the app switches
   * protocols (101) the bytes are tunnelled both ways on that connection until either side closes
   * it, so a switch never moves an open WebSocket (the old instance's stop after {@code
   * drainTimeout} closes it). An app that declines the upgrade is answered as usual.
   */
  private void tunnel(HttpServerRequest req, Routes.Route r) {
    Runnable done = inflight(r.upstream());
    var resp = req.response();
    // An answer (the app declined, or 502) ends the count; an upgraded connection, its close.
    resp.endHandler(v -> done.run());
    resp.closeHandler(v -> done.run());
    client
        .request(ProxyHttp.upstreamRequest(req, r.upstream()))
        .onFailure(err -> badGateway(req, r, err))
        .onSuccess(
            creq -> {
              // The upgrade's own headers (Connection, Upgrade, Sec-WebSocket-*) go through.
              creq.headers().addAll(req.headers());
              ProxyHttp.forwardedHeaders(req, creq.headers());
              // Ends the tunnel quietly (no "Connection was closed" error for every close).
              creq.exceptionHandler(err -> LOG.debug("websocket upstream: {}", err.toString()));
              creq.connect()
                  .onFailure(err -> badGateway(req, r, err))
                  .onSuccess(cresp -> upgraded(req, r, cresp, done));
            });
  }

  /** The app's answer, streamed back as it comes, and counted by route and status. */
  private void relay(HttpServerRequest req, Routes.Route r, HttpClientResponse cresp) {
    answered.of(r, cresp.statusCode()).increment();
    BodyStreams.answer(context, req, cresp);
  }

  private void upgraded(
      HttpServerRequest req, Routes.Route r, HttpClientResponse cresp, Runnable done) {
    if (cresp.statusCode() != 101) {
      relay(req, r, cresp);
      return;
    }
    var resp = req.response();
    answered.of(r, 101).increment();
    resp.setStatusCode(101);
    resp.setStatusMessage(cresp.statusMessage());
    resp.headers().addAll(cresp.headers());
    NetSocket app = cresp.netSocket();
    req.toNetSocket()
        .onFailure(
            err -> {
              app.close();
              done.run();
            })
        .onSuccess(
            user -> {
              user.closeHandler(
                  v -> {
                    app.close();
                    done.run();
                  });
              app.closeHandler(v -> user.close());
              user.exceptionHandler(err -> LOG.debug("websocket client: {}", err.toString()));
              app.exceptionHandler(err -> LOG.debug("websocket upstream: {}", err.toString()));
              user.pipeTo(app);
              app.pipeTo(user);
            });
  }
}
