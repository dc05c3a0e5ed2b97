package io.vtrack.agent.proxy;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.vtrack.agent.DurableFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import tools.jackson.databind.json.JsonMapper;

/**
 * What the switch proxy serves ({@code <stateDir>/proxy/routes.json}): for every public address,
 * the instance that answers it. Written by the agent, replaced atomically (a reader sees the old
 * file or the new one, never half of either), read by the proxy when told to and whenever it
 * starts, so that a restarted proxy serves the same routes.
 *
 * @param version grows with every change: the proxy acknowledges a switch by answering it
 */
public record Routes(long version, List<Route> routes) {
  private static final JsonMapper JSON = JsonMapper.builder().build();

  public Routes {
    routes = routes == null ? List.of() : List.copyOf(routes);
  }

  /**
   * One public address.
   *
   * @param listen host:port the proxy owns
   * @param upstream host:port of the live instance, or null while none is live (503)
   * @param instance which instance that is (its colour and commit), for metrics and status
   * @param drainMillis how long a stopped upstream's requests in flight may take
   * @param held requests wait in the proxy instead of going upstream (the live instance restarts on
   *     restored data), until the route changes or {@link #HOLD_MILLIS} pass (then 503)
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Route(
      String listen,
      String deployment,
      String service,
      String upstream,
      String instance,
      long drainMillis,
      boolean held) {
    /** The longest a request waits on a held route before it is answered 503. */
    public static final long HOLD_MILLIS = 10_000;

    /** This route with requests held, or let through again. */
    public Route held(boolean hold) {
      return new Route(listen, deployment, service, upstream, instance, drainMillis, hold);
    }
  }

  public static Path file(Path stateDir) {
    return stateDir.resolve("proxy").resolve("routes.json");
  }

  /**
   * The routes in {@code file}; none when there is no file yet. A file that is not routes (edited
   * by hand, cut short) is an IOException naming it.
   */
  public static Routes read(Path file) throws IOException {
    if (!Files.exists(file)) {
      return new Routes(0, List.of());
    }
    try {
      Routes r = JSON.readValue(Files.readAllBytes(file), Routes.class);
      if (r == null
          || r.routes() == null
          || r.routes().stream()
              .anyMatch(x -> x == null || x.listen() == null || x.deployment() == null)) {
        throw new IOException(file + " cannot be read: it is not a list of routes");
      }
      return r;
    } catch (tools.jackson.core.JacksonException e) {
      throw new IOException(file + " cannot be read: " + e.getOriginalMessage(), e);
    }
  }

  /** Replaces {@code file} atomically, flushed to disk before the rename. */
  public void write(Path file) throws IOException {
    Files.createDirectories(file.getParent());
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.write(tmp, JSON.writeValueAsBytes(this));
    DurableFiles.force(tmp);
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    DurableFiles.forceFolder(file.getParent());
  }
}
