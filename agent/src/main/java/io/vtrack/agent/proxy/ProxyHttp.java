package io.vtrack.agent.proxy;

import io.vertx.core.MultiMap;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.RequestOptions;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/** What the switch proxy does to the HTTP it forwards: headers, bodies, its own answers. */
final class ProxyHttp {
  private ProxyHttp() {}

  /**
   * Headers that belong to one hop, never forwarded (RFC 9110 §7.6.1); looked up ignoring case, so
   * no request lower-cases its header names.
   */
  private static final Set<String> HOP_BY_HOP =
      caseInsensitive(
          "connection",
          "keep-alive",
          "proxy-authenticate",
          "proxy-authorization",
          "te",
          "trailer",
          "transfer-encoding",
          "upgrade",
          "host");

  /**
   * Asks the kernel to acknowledge the upstream's next segments at once. Linux leaves quick-ACK
   * mode again as data flows (TCP_QUICKACK is not permanent: sending the request turns delayed ACKs
   * back on), and an app that writes its head and body apart under Nagle (Python's {@code
   * http.server}) then holds its body until the head's delayed ACK: up to a few milliseconds per
   * request. Set after each request is written, before the answer comes (epoll only).
   */
  static void quickAck(HttpConnection c) {
    if (c instanceof io.vertx.core.net.impl.ConnectionBase base
        && base.channel() instanceof io.netty.channel.epoll.EpollSocketChannel ch) {
      try {
        ch.config().setTcpQuickAck(true);
      } catch (io.netty.channel.ChannelException e) {
        // Closed already (the app reset it): the request's own failure says so.
      }
    }
  }

  /**
   * Copies the end-to-end headers: not the hop-by-hop ones, nor those the sender's {@code
   * Connection} header names (RFC 9110 §7.6.1), e.g. the {@code HTTP2-Settings} of an h2c upgrade.
   */
  static void copyEndToEnd(MultiMap from, MultiMap to) {
    String connection = from.get("Connection");
    Set<String> named = Set.of();
    if (connection != null) {
      named = caseInsensitive(connection.split(","));
    }
    for (Map.Entry<String, String> e : from) {
      String key = e.getKey();
      if (!HOP_BY_HOP.contains(key) && !named.contains(key)) {
        to.add(key, e.getValue());
      }
    }
  }

  /** The names, trimmed, as a set that compares them ignoring case. */
  private static Set<String> caseInsensitive(String... names) {
    TreeSet<String> s = new TreeSet<>(String.CASE_INSENSITIVE_ORDER);
    for (String n : names) {
      s.add(n.trim());
    }
    return s;
  }

  /**
   * Whether the client waits for "100 Continue" before it sends its body (an HTTP/1.0 client's
   * expectation is ignored, RFC 9110 §10.1.1).
   */
  static boolean expectsContinue(HttpServerRequest req) {
    String expect = req.getHeader("Expect");
    return expect != null
        && "100-continue".equalsIgnoreCase(expect.trim())
        && req.version() != HttpVersion.HTTP_1_0;
  }

  /** A connection to an app that has carried an answer before (it was kept for another). */
  static boolean servedBefore(HttpConnection c) {
    return c instanceof io.vertx.core.http.impl.HttpClientConnectionInternal i
        && i.lastResponseReceivedTimestamp() > 0;
  }

  /**
   * A request that may go to the app again when its connection closed before any answer: a method
   * that changes nothing (RFC 9110 §9.2.1) and no body, which the first try has read.
   */
  static boolean repeatable(HttpServerRequest req) {
    HttpMethod m = req.method();
    return (m == HttpMethod.GET || m == HttpMethod.HEAD || m == HttpMethod.OPTIONS)
        && req.getHeader("Content-Length") == null
        && req.getHeader("Transfer-Encoding") == null;
  }

  /** Whether an answer carries a body (RFC 9110 §6.4.1): not to HEAD, not 1xx, 204 or 304. */
  static boolean hasBody(HttpServerRequest req, int status) {
    return req.method() != HttpMethod.HEAD && status >= 200 && status != 204 && status != 304;
  }

  /** Why a request is answered by the proxy itself instead of forwarded. */
  record Refusal(int status, String message) {}

  /**
   * Whether a request is refused before it is forwarded (null: it is not), for what the proxy and
   * the app could read differently:
   *
   * <ul>
   *   <li>a transfer coding other than plain {@code chunked} ({@code gzip, chunked}, {@code
   *       chunked, identity}, a repeated header) cannot be passed on as it was sent, and re-framed
   *       as chunked (or without a body) the app would get another body: 501 (RFC 9112 §6.1);
   *   <li>an HTTP/1.0 request with one has faulty framing: 400;
   *   <li>an HTTP/1.1 request without a Host or with two: 400 (RFC 9112 §3.2), so that the app and
   *       {@code X-Forwarded-Host} never name different hosts.
   * </ul>
   */
  static Refusal refusal(HttpServerRequest req) {
    List<String> codings = req.headers().getAll("Transfer-Encoding");
    if (!codings.isEmpty() && req.version() == HttpVersion.HTTP_1_0) {
      return new Refusal(400, "transfer coding in HTTP/1.0: " + String.join(", ", codings));
    }
    if (!codings.isEmpty()
        && (codings.size() > 1 || !"chunked".equalsIgnoreCase(codings.get(0).trim()))) {
      return new Refusal(501, "transfer coding not supported: " + String.join(", ", codings));
    }
    int hosts = req.headers().getAll("Host").size();
    if (req.version() == HttpVersion.HTTP_1_1 && hosts != 1) {
      return new Refusal(400, hosts == 0 ? "no Host header" : hosts + " Host headers");
    }
    return null;
  }

  /** Answers a refused request, and closes the connection: what follows it cannot be trusted. */
  static void refuse(HttpServerRequest req, Refusal refusal) {
    req.response()
        .setStatusCode(refusal.status())
        .putHeader("Connection", "close")
        .putHeader("Content-Type", "text/plain")
        .end(refusal.message() + "\n")
        .onComplete(v -> req.connection().close());
  }

  static void unavailable(HttpServerRequest req, Routes.Route r) {
    req.response()
        .setStatusCode(503)
        .putHeader("Retry-After", "1")
        .putHeader("Content-Type", "text/plain")
        .end(
            "no live instance of "
                + (r == null ? "this address" : r.deployment() + "/" + r.service())
                + " right now\n");
  }

  /** The request to the app at {@code up} ("host:port"): the client's method and URI. */
  static RequestOptions upstreamRequest(HttpServerRequest req, String up) {
    int colon = up.lastIndexOf(':');
    return new RequestOptions()
        .setMethod(req.method())
        .setHost(up.substring(0, colon))
        .setPort(Integer.parseInt(up.substring(colon + 1)))
        .setURI(req.uri());
  }

  /** X-Forwarded-For, -Proto and -Host, and the client's Host. */
  static void forwardedHeaders(HttpServerRequest req, MultiMap h) {
    String client = req.remoteAddress() == null ? null : req.remoteAddress().hostAddress();
    String prior = req.getHeader("X-Forwarded-For");
    if (client != null) {
      h.set("X-Forwarded-For", prior == null ? client : prior + ", " + client);
    }
    h.set("X-Forwarded-Proto", req.isSSL() ? "https" : "http");
    if (req.authority() != null) {
      h.set("X-Forwarded-Host", req.authority().toString());
      h.set("Host", req.authority().toString());
    }
  }
}
