package io.vtrack.agent.proxy;

import io.vtrack.agent.proxy.ProxySupervisor.ProxyUnavailableException;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import tools.jackson.databind.json.JsonMapper;

/**
 * The agent's calls to a switch proxy's admin listener (loopback, the agent's token): is it
 * answering, load routes.json, what does it serve. Blocking: call from a worker.
 */
final class ProxyAdmin {
  private static final JsonMapper JSON = JsonMapper.builder().build();

  private final String token;
  private final HttpClient http =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(2))
          .build();

  ProxyAdmin(String token) {
    this.token = token;
  }

  /** A call to {@code path} of the admin listener {@code s} names, with the agent's token. */
  private HttpRequest.Builder request(ProxyState s, String path, Duration timeout) {
    return HttpRequest.newBuilder(URI.create(s.adminUrl() + path))
        .header("Authorization", "Bearer " + token)
        .timeout(timeout);
  }

  /** Whether the proxy {@code s} names answers its health check within 2 s. */
  boolean answers(ProxyState s) {
    try {
      HttpResponse<String> r =
          http.send(
              request(s, "/healthz", Duration.ofSeconds(2)).build(),
              HttpResponse.BodyHandlers.ofString());
      return r.statusCode() == 200;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /**
   * Has the proxy load routes.json; returns the version it serves now, or fails with why it does
   * not (it does not answer, or an address cannot be listened on).
   */
  long reload(ProxyState s) throws ProxyUnavailableException {
    try {
      HttpResponse<String> resp =
          http.send(
              request(s, "/reload", Duration.ofSeconds(10))
                  .POST(HttpRequest.BodyPublishers.noBody())
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      if (resp.statusCode() != 200) {
        Object why = null;
        try {
          why = JSON.readValue(resp.body(), Map.class).get("message");
        } catch (RuntimeException notJson) {
          // said below as it came
        }
        throw new ProxyUnavailableException(
            "the switch proxy cannot serve the routes: " + (why != null ? why : resp.body()));
      }
      return ((Number) JSON.readValue(resp.body(), Map.class).get("version")).longValue();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ProxyUnavailableException("interrupted while switching");
    } catch (ProxyUnavailableException e) {
      throw e;
    } catch (IOException e) {
      throw new ProxyUnavailableException("the switch proxy does not answer: " + e.getMessage());
    }
  }

  /** What the proxy says of itself (routes, requests in flight by upstream), or null. */
  @SuppressWarnings("unchecked")
  Map<String, Object> status(ProxyState s) {
    try {
      HttpResponse<String> resp =
          http.send(
              request(s, "/status", Duration.ofSeconds(2)).build(),
              HttpResponse.BodyHandlers.ofString());
      return resp.statusCode() == 200 ? JSON.readValue(resp.body(), Map.class) : null;
    } catch (IOException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }
}
