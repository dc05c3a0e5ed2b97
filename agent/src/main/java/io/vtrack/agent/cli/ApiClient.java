package io.vtrack.agent.cli;

import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import tools.jackson.databind.json.JsonMapper;

/** A small blocking client of the agent's HTTP API for the CLI. */
final class ApiClient {
  private static final JsonMapper JSON = JsonMapper.builder().build();

  /** The API could not be reached at all (exit code 3). */
  static final class UnreachableException extends Exception {
    UnreachableException(String message) {
      super(message);
    }
  }

  /** A non-2xx answer: its status and the error body. */
  record Response(int status, Map<String, Object> body) {
    boolean ok() {
      return status >= 200 && status < 300;
    }

    String errorMessage() {
      Object m = body.get("message");
      Object e = body.get("error");
      return (e == null ? "HTTP " + status : e) + (m == null ? "" : ": " + m);
    }
  }

  private final String server;
  private final String token;
  private final HttpClient http =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5))
          .build();

  ApiClient(String server, String token) {
    this.server = server.endsWith("/") ? server.substring(0, server.length() - 1) : server;
    this.token = token;
  }

  String server() {
    return server;
  }

  /** A GET, with the token when there is one (the spec, plan and diff are for token holders). */
  Response get(String path) throws UnreachableException {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server + path)).GET();
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return send(b);
  }

  Response post(String path, Object body) throws UnreachableException {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(server + path))
            .header("Content-Type", "application/json")
            .POST(
                HttpRequest.BodyPublishers.ofString(
                    body == null ? "" : JSON.writeValueAsString(body)));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return send(b);
  }

  @SuppressWarnings("unchecked")
  private Response send(HttpRequest.Builder b) throws UnreachableException {
    try {
      HttpResponse<String> r =
          http.send(
              b.timeout(Duration.ofSeconds(60)).header("User-Agent", "vtrack-cli").build(),
              HttpResponse.BodyHandlers.ofString());
      Map<String, Object> body =
          r.body() == null || r.body().isBlank() ? Map.of() : JSON.readValue(r.body(), Map.class);
      return new Response(r.statusCode(), body);
    } catch (IOException e) {
      throw new UnreachableException("cannot reach the vtrack API at " + server + ": " + why(e));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new UnreachableException("interrupted");
    } catch (RuntimeException e) {
      throw new UnreachableException("bad answer from " + server + ": " + e.getMessage());
    }
  }

  /**
   * What went wrong, readably: the JDK's client throws a bare {@link ConnectException} (no message)
   * for a refused connection.
   */
  static String why(IOException e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t.getMessage() != null && !t.getMessage().isBlank()) {
        return t.getMessage();
      }
    }
    return e instanceof ConnectException ? "connection refused" : e.getClass().getSimpleName();
  }
}
