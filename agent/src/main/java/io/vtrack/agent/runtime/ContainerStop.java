package io.vtrack.agent.runtime;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.api.exception.NotModifiedException;
import com.github.dockerjava.api.model.Container;
import com.github.dockerjava.core.DockerClientImpl;
import com.github.dockerjava.transport.DockerHttpClient;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Stopping the containers of a compose deployment: all at once, each within its own stop timeout,
 * as {@code docker stop} would, then removed unless they are to be recreated. Blocking.
 */
final class ContainerStop {
  private static final Logger LOG = LoggerFactory.getLogger(ContainerStop.class);

  private final DockerClient docker;

  /** Without a response timeout: a stop lasts as long as the container's stop timeout. */
  private final DockerClient streams;

  private final ContainerExits exits;

  ContainerStop(DockerClient docker, DockerClient streams, ContainerExits exits) {
    this.docker = docker;
    this.streams = streams;
    this.exits = exits;
  }

  /**
   * Stops {@code containers} in parallel (as a process deployment's services stop: two that ignore
   * TERM cost the longer grace period, not the sum), removing them if {@code remove}; says which
   * the engine had to kill after their stop timeout (else "").
   */
  String all(String deployment, Collection<Container> containers, boolean remove) {
    List<Container> list = List.copyOf(containers);
    if (list.isEmpty()) {
      return "";
    }
    Set<String> said = new LinkedHashSet<>(); // replicas say the same
    ExecutorService pool = Executors.newFixedThreadPool(Math.min(list.size(), 16));
    try {
      List<Future<String>> stops = new ArrayList<>();
      for (Container c : list) {
        exits.expectGone(c.getId());
        stops.add(pool.submit(() -> one(deployment, c, remove)));
      }
      for (Future<String> f : stops) {
        String one = f.get();
        if (one != null) {
          said.add(one);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while stopping " + deployment, e);
    } catch (ExecutionException e) {
      throw e.getCause() instanceof RuntimeException r
          ? r
          : new IllegalStateException(e.getCause());
    } finally {
      pool.shutdown();
    }
    return String.join("; ", said);
  }

  /**
   * Stops one container within its own stop timeout, and removes it if asked; returns what the stop
   * said when the engine had to kill it, or null.
   */
  private String one(String deployment, Container c, boolean remove) {
    String svc = c.getLabels().getOrDefault(ComposeRuntime.LABEL_SERVICE, c.getId());
    String said = null;
    try {
      if ("running".equals(c.getState()) || "restarting".equals(c.getState())) {
        LOG.info(
            "{}: stopping container {} ({})", deployment, ComposeRuntime.shortId(c.getId()), svc);
        withinItsOwnTimeout(c.getId());
        // 137 = 128 + KILL: the engine killed it once its stop timeout had passed.
        Long code = docker.inspectContainerCmd(c.getId()).exec().getState().getExitCodeLong();
        if (code != null && code == 137) {
          said = svc + " still ran after its stop timeout (stop_grace_period): killed";
        }
      }
    } catch (NotModifiedException | NotFoundException e) {
      // Already stopped or gone.
    }
    if (remove) {
      try {
        docker.removeContainerCmd(c.getId()).withForce(true).exec();
      } catch (NotFoundException e) {
        // Already gone.
      }
    }
    return said;
  }

  /**
   * Asks the engine to stop a container within the container's own stop timeout (compose sets it
   * from stop_grace_period; the engine's default is 10 s), as {@code docker stop} does. docker-java
   * always sends a timeout, 10 s unless told: it killed a worker given a minute to finish its job,
   * and gave one that asked for 1 s ten. The engine bounds the call by the stop timeout, then
   * kills.
   */
  private void withinItsOwnTimeout(String id) {
    // The raw request: docker-java's StopContainerCmd cannot leave the timeout out. Every client
    // ComposeRuntime makes is a DockerClientImpl.
    DockerHttpClient http = ((DockerClientImpl) streams).getHttpClient();
    DockerHttpClient.Request req =
        DockerHttpClient.Request.builder()
            .method(DockerHttpClient.Request.Method.POST)
            .path("/containers/" + id + "/stop")
            .build();
    try (DockerHttpClient.Response r = http.execute(req)) {
      int code = r.getStatusCode();
      // 204 stopped, 304 not running, 404 gone: all leave it stopped.
      if (code >= 400 && code != 404) {
        String body = new String(r.getBody().readNBytes(500), StandardCharsets.UTF_8);
        throw new IllegalStateException(
            "the engine did not stop container "
                + ComposeRuntime.shortId(id)
                + ": HTTP "
                + code
                + " "
                + body);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
