package io.vtrack.agent.runtime;

import static io.vtrack.agent.runtime.ComposeRuntime.LABEL_COMMIT;
import static io.vtrack.agent.runtime.ComposeRuntime.LABEL_DEPLOYMENT;
import static io.vtrack.agent.runtime.ComposeRuntime.LABEL_SERVICE;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.async.ResultCallback;
import com.github.dockerjava.api.command.InspectContainerResponse;
import com.github.dockerjava.api.command.LogContainerCmd;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.api.model.Container;
import com.github.dockerjava.api.model.Frame;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
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
    try {
      return docker
          .listContainersCmd()
          .withShowAll(true)
          .withLabelFilter(Map.of(LABEL_DEPLOYMENT, deployment))
          .exec();
    } catch (RuntimeException e) {
      throw EngineUnreachableException.of(e);
    }
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
    return tail(lastLines(newest.getId(), 30));
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
                closeQuietly(this, containerId);
              }
            });
  }

  /** The last lines of one container's output, stdout and stderr. */
  String lastLines(String containerId, int lines) {
    StringBuilder sb = new StringBuilder();
    stream(
        docker.logContainerCmd(containerId).withStdOut(true).withStdErr(true).withTail(lines),
        containerId,
        payload -> {
          sb.append(payload);
          return true;
        });
    return sb.toString(); // stream() returned: nothing is appended any more
  }

  /**
   * The lines of one container's output (stdout and stderr) that the engine stamped after {@code
   * markNanos} (epoch nanoseconds), in order: whole lines, at most {@value #MAX_LOG_CHARS}
   * characters of them ({@code cut} then: the rest is read from the last one next time). The engine
   * reads from a whole second, so the lines of the mark's second up to the mark come again and are
   * dropped as they arrive, never kept.
   */
  Output after(String containerId, long markNanos) {
    List<Stamped> kept = new ArrayList<>();
    StringBuilder partial = new StringBuilder();
    long[] chars = {0};
    boolean[] cut = {false};
    boolean complete =
        stream(
            docker
                .logContainerCmd(containerId)
                .withStdOut(true)
                .withStdErr(true)
                .withTimestamps(true)
                .withSince((int) Math.max(0, (markNanos + 1) / 1_000_000_000L)),
            containerId,
            payload -> {
              partial.append(payload);
              int from = 0;
              for (int nl = partial.indexOf("\n"); nl >= 0; nl = partial.indexOf("\n", from)) {
                int sp = partial.indexOf(" ", from);
                long ts = sp < 0 || sp > nl ? -1 : stampOf(partial.subSequence(from, sp));
                if (ts > markNanos) {
                  kept.add(new Stamped(ts, partial.substring(sp + 1, nl)));
                  chars[0] += nl - from;
                }
                from = nl + 1;
                if (chars[0] >= MAX_LOG_CHARS) {
                  cut[0] = true;
                  return false;
                }
              }
              partial.delete(0, from);
              return true;
            });
    return new Output(kept, cut[0] || !complete);
  }

  /** The time an RFC 3339 stamp names, in epoch nanoseconds, or -1 if it is not one. */
  private static long stampOf(CharSequence stamp) {
    try {
      Instant t = Instant.parse(stamp);
      return t.getEpochSecond() * 1_000_000_000L + t.getNano();
    } catch (DateTimeParseException e) {
      return -1;
    }
  }

  /**
   * Runs a log command, handing each payload to {@code take} (on the stream's thread) until it
   * answers false, the output ends, or 30 s passed; whether the output ended. The stream is closed
   * in every case, and once this returns {@code take} is not called again (what it wrote is then
   * safe to read: both sides hold the same lock).
   */
  private static boolean stream(LogContainerCmd cmd, String containerId, Predicate<String> take) {
    Object lock = new Object();
    boolean[] done = {false};
    ResultCallback.Adapter<Frame> read =
        new ResultCallback.Adapter<>() {
          @Override
          public void onNext(Frame f) {
            boolean more;
            synchronized (lock) {
              if (done[0]) {
                return;
              }
              more = take.test(new String(f.getPayload(), StandardCharsets.UTF_8));
              done[0] = !more;
            }
            if (!more) {
              closeQuietly(this, containerId);
            }
          }

          @Override
          public void onError(Throwable t) {
            // Gone or the engine away: what was read so far is returned, the rest read next time.
            LOG.debug("log read of container {} ended: {}", containerId, t.toString());
            closeQuietly(this, containerId);
          }
        };
    boolean ended = false;
    try {
      ended = cmd.exec(read).awaitCompletion(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (NotFoundException e) {
      ended = true; // gone: nothing more to read
    } finally {
      closeQuietly(read, containerId);
    }
    synchronized (lock) {
      boolean stoppedByTake = done[0];
      done[0] = true; // nothing more is taken after this returns
      return ended && !stoppedByTake;
    }
  }

  private static void closeQuietly(ResultCallback<Frame> stream, String containerId) {
    try {
      stream.close();
    } catch (IOException e) {
      LOG.debug("closing the log stream of container {}: {}", containerId, e.toString());
    }
  }

  /** A line of a container's output and when the engine got it (epoch nanoseconds). */
  record Stamped(long ts, String text) {}

  /** A container's output as read; {@code cut}: not all of it, only whole lines up to the limit. */
  record Output(List<Stamped> lines, boolean cut) {}

  /** The most characters of a container's output read at once. */
  static final int MAX_LOG_CHARS = 8 << 20;

  /** The last 2000 characters of an output, trimmed: what a status message can carry. */
  static String tail(String s) {
    String t = s.strip();
    return t.length() > 2000 ? "…" + t.substring(t.length() - 2000) : t;
  }

  /** One container as the containers check sees it. */
  public record ContainerState(
      String service, String id, String commit, String state, String health, String status) {}
}
