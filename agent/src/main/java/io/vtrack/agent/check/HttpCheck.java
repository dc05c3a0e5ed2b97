package io.vtrack.agent.check;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vtrack.agent.Texts;
import io.vtrack.agent.model.CheckSpec;
import io.vtrack.agent.model.JsonPath;
import java.math.BigDecimal;
import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import tools.jackson.databind.json.JsonMapper;

/**
 * An HTTP request whose answer must have an expected status, content type, top-level JSON keys and
 * values at JSON paths. The body is read up to {@code maxBodyBytes} and no further.
 */
public final class HttpCheck implements HealthCheck {
  private static final JsonMapper JSON = JsonMapper.builder().build();

  private final CheckSpec spec;
  private final CheckSpec.Http http;
  private final String url;
  private final Map<String, Object> expected;
  private final HttpClient client;

  /** Whether this check has passed since it was built (one build per verification). */
  private volatile boolean passedOnce;

  /** {@code url} and {@code expected} come with substitutions already applied. */
  public HttpCheck(CheckSpec spec, String url, Map<String, Object> expected, HttpClient client) {
    this.spec = spec;
    this.http = spec.http();
    this.url = url;
    this.expected = expected;
    this.client = client;
  }

  @Override
  public CheckSpec spec() {
    return spec;
  }

  @Override
  public Optional<InetSocketAddress> asks() {
    return HealthCheck.addressOf(url);
  }

  @Override
  public Future<CheckResult> run() {
    long start = System.nanoTime();
    long timeout = spec.effectiveTimeout().millis();
    long max = http.maxBodyBytes().bytes();
    Promise<CheckResult> done = Promise.promise();
    RequestOptions opts =
        new RequestOptions()
            .setMethod(HttpMethod.GET)
            .setAbsoluteURI(url)
            .setTimeout(timeout)
            .setIdleTimeout(timeout)
            .setFollowRedirects(false);
    boolean[] sent = {false};
    HttpClientRequest[] asked = {null};
    int[] status = {-1};
    client
        .request(opts)
        .compose(
            req -> {
              sent[0] = true;
              asked[0] = req;
              // The answer is read in its own future's callback: one chained after the compose
              // may run later, off the connection's event loop, once the whole answer was read
              // and its body dropped unseen (the check would then wait out its timeout).
              return req.send()
                  .onSuccess(
                      resp -> {
                        status[0] = resp.statusCode();
                        read(resp, max, done, start);
                      });
            })
        .onFailure(
            err ->
                // Refused or reset before any response: nothing answered yet; no response within
                // the timeout to a request that was sent: judged with the round.
                done.tryComplete(
                    result(CheckStatus.Failing, null, failed(err, spec), start)
                        .as(Failure.ofRequest(err, sent[0]))));
    // The timeout is for the whole answer: the request's own timeouts are for a pause in it, and an
    // answer that streams without end (events, a large file) would hold the check for ever.
    return done.future()
        .timeout(timeout, TimeUnit.MILLISECONDS)
        .recover(
            err -> {
              String within = spec.effectiveTimeout().text();
              done.tryComplete(
                  status[0] < 0
                      ? result(CheckStatus.Failing, null, failed(err, spec), start)
                          .as(Failure.ofRequest(err, sent[0]))
                      : result(
                              CheckStatus.Failing,
                              Integer.toString(status[0]),
                              status[0] + ", but the answer did not end within " + within,
                              start)
                          .as(Failure.Unanswered));
              // Broken off once its result is set: the reset fails what still reads it.
              if (asked[0] != null) {
                asked[0].reset();
              }
              return done.future();
            });
  }

  /** Reads {@code resp}'s body, up to {@code max} bytes, and judges the whole answer. */
  private void read(HttpClientResponse resp, long max, Promise<CheckResult> done, long start) {
    Buffer body = Buffer.buffer();
    boolean[] tooBig = {false};
    resp.handler(
        chunk -> {
          if (tooBig[0]) {
            return;
          }
          if (body.length() + chunk.length() > max) {
            tooBig[0] = true;
            resp.request().reset();
            done.tryComplete(
                result(
                    CheckStatus.Failing,
                    Integer.toString(resp.statusCode()),
                    "body exceeds maxBodyBytes (" + max + ")",
                    start));
            return;
          }
          body.appendBuffer(chunk);
        });
    resp.exceptionHandler(
        err ->
            done.tryComplete(
                result(
                    CheckStatus.Failing,
                    Integer.toString(resp.statusCode()),
                    "reading body failed: " + describe(err),
                    start)));
    resp.endHandler(
        v ->
            done.tryComplete(
                judge(resp.statusCode(), resp.getHeader("Content-Type"), body, start)));
  }

  private CheckResult judge(int status, String contentType, Buffer body, long start) {
    String value = Integer.toString(status);
    long ms = elapsedMs(start);
    if (!http.status().contains(status)) {
      CheckResult r =
          result(
              CheckStatus.Failing,
              value,
              "status " + status + ", expected " + http.status() + snippet(body),
              start);
      // A proxy or an app still warming up answers 502/503/504 until it can serve.
      boolean warmingUp = !passedOnce && (status == 502 || status == 503 || status == 504);
      return warmingUp ? r.as(Failure.NotReady) : r;
    }
    if (http.contentType() != null
        && (contentType == null
            || !contentType.toLowerCase().startsWith(http.contentType().toLowerCase()))) {
      return result(
          CheckStatus.Failing,
          value,
          "content type " + contentType + ", expected " + http.contentType(),
          start);
    }
    if (!http.jsonKeys().isEmpty() || !expected.isEmpty()) {
      Object doc;
      try {
        doc = JSON.readValue(body.getBytes(), Object.class);
      } catch (RuntimeException e) {
        return result(CheckStatus.Failing, value, "body is not JSON" + snippet(body), start);
      }
      List<String> missing = new ArrayList<>();
      for (String key : http.jsonKeys()) {
        if (!(doc instanceof Map<?, ?> m) || !m.containsKey(key)) {
          missing.add(key);
        }
      }
      if (!missing.isEmpty()) {
        return result(CheckStatus.Failing, value, "missing JSON keys " + missing, start);
      }
      for (Map.Entry<String, Object> e : expected.entrySet()) {
        Object actual = JsonPath.get(doc, e.getKey());
        if (actual == JsonPath.missing()) {
          return result(
              CheckStatus.Failing, value, "JSON path " + e.getKey() + " is missing", start);
        }
        if (!sameValue(e.getValue(), actual)) {
          return result(
              CheckStatus.Failing,
              value,
              "JSON path "
                  + e.getKey()
                  + " is "
                  + render(actual)
                  + ", expected "
                  + render(e.getValue()),
              start);
        }
      }
    }
    passedOnce = true;
    return new CheckResult(
        spec.name(),
        "http",
        CheckStatus.Passing,
        value,
        status + " in " + ms + "ms",
        ms,
        Instant.now().toString());
  }

  /** Numbers compare by value (1 equals 1.0); a number also matches its decimal string. */
  static boolean sameValue(Object expected, Object actual) {
    if (expected instanceof Number a && actual instanceof Number b) {
      return new BigDecimal(a.toString()).compareTo(new BigDecimal(b.toString())) == 0;
    }
    if (expected instanceof String s && actual instanceof Number n) {
      try {
        return new BigDecimal(s).compareTo(new BigDecimal(n.toString())) == 0;
      } catch (NumberFormatException e) {
        return false;
      }
    }
    if (expected instanceof Number n && actual instanceof String s) {
      return sameValue(s, n);
    }
    return Objects.equals(expected, actual);
  }

  /** A JSON value for a message: at most 200 characters of it (it may be a whole array). */
  private static String render(Object v) {
    String s = v instanceof String t ? "\"" + t + "\"" : String.valueOf(v);
    return Texts.abbreviate(s, 200);
  }

  private static String snippet(Buffer body) {
    if (body.length() == 0) {
      return "";
    }
    String s = body.getString(0, Math.min(body.length(), 200)).replaceAll("\\s+", " ");
    return ": " + s;
  }

  private CheckResult result(CheckStatus status, String value, String message, long start) {
    long ms = elapsedMs(start);
    return new CheckResult(
        spec.name(), "http", status, value, message, ms, Instant.now().toString());
  }

  /** What a request that got no response says: no answer within the timeout, or why it failed. */
  static String failed(Throwable err, CheckSpec spec) {
    return err instanceof java.util.concurrent.TimeoutException
        ? "no response within " + spec.effectiveTimeout().text()
        : "request failed: " + describe(err);
  }

  static String describe(Throwable err) {
    String m = err.getMessage();
    return m == null ? err.getClass().getSimpleName() : m;
  }

  static long elapsedMs(long startNanos) {
    return (System.nanoTime() - startNanos) / 1_000_000;
  }
}
