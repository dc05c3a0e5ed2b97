package io.vtrack.agent.it;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import tools.jackson.databind.json.JsonMapper;

/** A test client of the agent's API (and of the app itself), on 127.0.0.1 only. */
public final class Api {
  static final JsonMapper JSON = JsonMapper.builder().build();
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
  private final int port;
  private final String token;

  public Api(int port, String token) {
    this.port = port;
    this.token = token;
  }

  public record Answer(int status, String body) {
    @SuppressWarnings("unchecked")
    public Map<String, Object> json() {
      return JSON.readValue(body, Map.class);
    }
  }

  public Answer get(String path) throws Exception {
    return send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).GET());
  }

  /** A GET with the agent's token (the spec, the plan and the diff are for token holders). */
  public Answer getAuthed(String path) throws Exception {
    return send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
            .header("Authorization", "Bearer " + token)
            .GET());
  }

  public Answer post(String path, String body, Map<String, String> headers) throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
            .POST(HttpRequest.BodyPublishers.ofString(body));
    headers.forEach(b::header);
    return send(b);
  }

  public Answer postAuthed(String path, String body) throws Exception {
    return post(
        path, body, Map.of("Authorization", "Bearer " + token, "Content-Type", "application/json"));
  }

  private Answer send(HttpRequest.Builder b) throws Exception {
    HttpResponse<String> r =
        http.send(b.timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
    return new Answer(r.statusCode(), r.body());
  }

  /** The status object of a deployment, or an empty map when it is unknown. */
  @SuppressWarnings("unchecked")
  public Map<String, Object> status(String name) {
    try {
      Answer a = get("/api/v1/deployments/" + name);
      if (a.status() != 200) {
        return Map.of();
      }
      return (Map<String, Object>) a.json().getOrDefault("status", Map.of());
    } catch (Exception e) {
      return Map.of();
    }
  }

  @SuppressWarnings("unchecked")
  public List<Map<String, Object>> history(String name) throws Exception {
    return (List<Map<String, Object>>)
        get("/api/v1/deployments/" + name + "/history").json().get("items");
  }

  /** GETs a URL of the app itself and returns its JSON body, or null when it does not answer. */
  @SuppressWarnings("unchecked")
  public static Map<String, Object> appJson(String url) {
    try {
      HttpResponse<String> r =
          HttpClient.newHttpClient()
              .send(
                  HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(5)).build(),
                  HttpResponse.BodyHandlers.ofString());
      return r.statusCode() == 200 ? JSON.readValue(r.body(), Map.class) : null;
    } catch (Exception e) {
      return null;
    }
  }
}
