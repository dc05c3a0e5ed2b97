package io.vtrack.agent.api;

import java.util.List;
import java.util.regex.Pattern;

/** The API's paths and the methods each takes, for a 405 with {@code Allow} on any other. */
final class Endpoints {
  private Endpoints() {}

  private record Path(Pattern pattern, String methods) {}

  private static final String NAME = "[^/]+";

  private static final List<Path> PATHS =
      List.of(
          path("/", "GET"),
          path("/healthz", "GET"),
          path("/readyz", "GET"),
          path("/metrics", "GET"),
          path("/api/v1/events", "GET"),
          path("/api/v1/deployments", "GET"),
          path("/api/v1/deployments/" + NAME, "GET"),
          path("/api/v1/deployments/" + NAME + "/history", "GET"),
          path("/api/v1/deployments/" + NAME + "/history/" + NAME, "GET"),
          path("/api/v1/deployments/" + NAME + "/plan", "GET"),
          path("/api/v1/deployments/" + NAME + "/diff", "GET"),
          path("/api/v1/deployments/" + NAME + "/reconcile", "POST"),
          path("/api/v1/deployments/" + NAME + "/rollback", "POST"),
          path("/api/v1/deployments/" + NAME + "/suspend", "POST"),
          path("/api/v1/deployments/" + NAME + "/resume", "POST"),
          path("/api/v1/hooks/git", "POST"));

  private static Path path(String regex, String methods) {
    return new Path(Pattern.compile(regex), methods);
  }

  /** The methods {@code path} takes, or null when it is no endpoint of the API. */
  static String allowed(String path) {
    for (Path p : PATHS) {
      if (p.pattern().matcher(path).matches()) {
        return p.methods();
      }
    }
    return null;
  }
}
