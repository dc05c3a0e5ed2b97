package io.vtrack.agent.api;

import io.vertx.ext.web.RoutingContext;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

/**
 * Who may ask what: the Host a request names must be one this agent answers to (DNS rebinding), and
 * commands need the agent's token, compared in constant time.
 */
final class ApiAccess {
  private final String token;
  private final AllowedHosts hosts;

  ApiAccess(String token, AllowedHosts hosts) {
    this.token = token;
    this.hosts = hosts;
  }

  /** Whether the request carries the agent's token (compared in constant time). */
  boolean hasToken(RoutingContext rc) {
    String h = rc.request().getHeader("Authorization");
    String expected = "Bearer " + token;
    return h != null
        && MessageDigest.isEqual(
            h.trim().getBytes(StandardCharsets.UTF_8), expected.getBytes(StandardCharsets.UTF_8));
  }

  void knownHost(RoutingContext rc) {
    String host = rc.request().authority() == null ? null : rc.request().authority().host();
    if (host != null && !hosts.allows(host)) {
      Replies.error(
          rc,
          new ApiError(
              403,
              "ForbiddenHost",
              "Host '"
                  + host
                  + "' is not one this agent answers to (an IP address, localhost, the agent's"
                  + " name, or allowedHosts in agent.yaml)"));
      return;
    }
    rc.next();
  }

  void authenticated(RoutingContext rc) {
    if (!hasToken(rc)) {
      rc.response().putHeader("WWW-Authenticate", "Bearer");
      Replies.error(
          rc,
          new ApiError(
              401,
              "Unauthorized",
              "this call needs 'Authorization: Bearer <token>' (the agent's api-token)"));
      return;
    }
    rc.next();
  }

  /** Who made a command, for the rollout record. */
  static String caller(RoutingContext rc) {
    String ua = rc.request().getHeader("User-Agent");
    return "token@" + rc.request().remoteAddress().host() + (ua == null ? "" : " (" + ua + ")");
  }
}
