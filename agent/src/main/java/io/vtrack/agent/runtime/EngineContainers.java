package io.vtrack.agent.runtime;

import static io.vtrack.agent.runtime.ComposeRuntime.LABEL_COMMIT;
import static io.vtrack.agent.runtime.ComposeRuntime.LABEL_DEPLOYMENT;
import static io.vtrack.agent.runtime.ComposeRuntime.LABEL_SERVICE;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.async.ResultCallback;
import com.github.dockerjava.api.command.InspectContainerResponse;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.api.model.Container;
import com.github.dockerjava.api.model.Frame;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the engine says about a deployment's containers, found by the label the override puts on
 * them: their state and Docker health, their processes' memory, their output. Every method blocks.
 */
public final class EngineContainers {
  private static final Logger LOG = LoggerFactory.getLogger(EngineContainers.class);

  private final DockerClient docker;

  /** For streams that may stay silent for long: no response timeout. */
  private final DockerClient streams;

  EngineContainers(DockerClient docker, DockerClient streams) {
    this.docker = docker;
    this.streams = streams;
  }

  /** Every container of a deployment, running or not, by the label the override puts on them. */
  List<Container> containers(String deployment) {
    return docker
        .listContainersCmd()
        .withShowAll(true)
        .withLabelFilter(Map.of(LABEL_DEPLOYMENT, deployment))
        .exec();
  }

  /**
   * The state and Docker health of each container of a deployment, for the containers check: a
   * container not running, or {@code unhealthy}, fails the round.
   */
  List<ContainerState> containerStates(String deployment) {
    List<ContainerState> out = new ArrayList<>();
    for (Container c : containers(deployment)) {
      String status = c.getStatus() == null ? "" : c.getStatus();
      String health =
          status.contains("(unhealthy)")
              ? "unhealthy"
              : status.contains("(healthy)")
                  ? "healthy"
                  : status.contains("(health: starting)") ? "starting" : null;
      out.add(
          new ContainerState(
              c.getLabels().getOrDefault(LABEL_SERVICE, "?"),
              c.getId(),
              c.getLabels().get(LABEL_COMMIT),
              c.getState(),
              health,
              status));
    }
    out.sort(Comparator.comparing(ContainerState::service));
    return out;
  }

  /** Resident memory of a service's containers: every process in them, read from /proc. */
  long residentBytes(String deployment, String service) {
    long total = -1;
    for (Container c : containers(deployment)) {
      if (!service.equals(c.getLabels().get(LABEL_SERVICE)) || !"running".equals(c.getState())) {
        continue;
      }
      InspectContainerResponse.ContainerState st;
      try {
        st = docker.inspectContainerCmd(c.getId()).exec().getState();
      } catch (NotFoundException e) {
        continue;
      }
      Long pid = st.getPidLong();
      if (pid == null || pid <= 0) {
        continue;
      }
      long pages = ProcStat.read(pid).map(ProcStat::rssPages).orElse(0L);
      pages +=
          ProcessHandle.of(pid)
              .map(
                  h ->
                      h.descendants()
                          .mapToLong(d -> ProcStat.read(d.pid()).map(ProcStat::rssPages).orElse(0L))
                          .sum())
              .orElse(0L);
      total = Math.max(total, 0) + pages * 4096L;
    }
    return total;
  }

  String lastOutput(String deployment, String service) {
    Container newest = null;
    for (Container c : containers(deployment)) {
      if (service.equals(c.getLabels().get(LABEL_SERVICE))
          && (newest == null || c.getCreated() > newest.getCreated())) {
        newest = c;
      }
    }
    if (newest == null) {
      return "";
    }
    return tail(logs(newest.getId(), null, 30, false));
  }

  /**
   * Runs {@code written} for each piece of output one container writes from now on (the engine's
   * log stream, nothing from before), until closed or the container stops.
   */
  AutoCloseable follow(String containerId, Runnable written) {
    return streams
        .logContainerCmd(containerId)
        .withStdOut(true)
        .withStdErr(true)
        .withFollowStream(true)
        .withTail(0)
        .exec(
            new ResultCallback.Adapter<Frame>() {
              @Override
              public void onNext(Frame f) {
                written.run();
              }

              @Override
              public void onError(Throwable t) {
                // Stopped, removed or closed: its output is still counted at each round.
                LOG.debug("log stream of container {} ended: {}", containerId, t.toString());
                try {
                  close();
                } catch (IOException e) {
                  LOG.debug(
                      "closing the log stream of container {}: {}", containerId, e.toString());
                }
              }
            });
  }

  /** Log lines of one container, stdout and stderr, optionally since a time and with timestamps. */
  String logs(String containerId, Integer sinceSeconds, Integer tailLines, boolean timestamps) {
    StringBuilder sb = new StringBuilder();
    var cmd =
        docker
            .logContainerCmd(containerId)
            .withStdOut(true)
            .withStdErr(true)
            .withTimestamps(timestamps);
    if (sinceSeconds != null) {
      cmd = cmd.withSince(sinceSeconds);
    }
    if (tailLines != null) {
      cmd = cmd.withTail(tailLines);
    }
    try {
      cmd.exec(
              new ResultCallback.Adapter<Frame>() {
                public void onNext(Frame f) {
                  sb.append(new String(f.getPayload(), StandardCharsets.UTF_8));
                }
              })
          .awaitCompletion(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (NotFoundException e) {
      return "";
    }
    return sb.toString();
  }

  /** The last 2000 characters of an output, trimmed: what a status message can carry. */
  static String tail(String s) {
    String t = s.strip();
    return t.length() > 2000 ? "…" + t.substring(t.length() - 2000) : t;
  }

  /** One container as the containers check sees it. */
  public record ContainerState(
      String service, String id, String commit, String state, String health, String status) {}
}
