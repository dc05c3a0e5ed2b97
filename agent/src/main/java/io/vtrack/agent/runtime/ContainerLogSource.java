package io.vtrack.agent.runtime;

import com.github.dockerjava.api.model.Container;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * A compose service's output, read through the engine's log API with timestamps. The mark is the
 * timestamp (epoch nanoseconds) of the last line read, so a container replaced in between is read
 * from its first line and nothing is counted twice.
 */
final class ContainerLogSource implements LogSource {
  private final EngineContainers engine;
  private final String deployment;
  private final String service;

  ContainerLogSource(EngineContainers engine, String deployment, String service) {
    this.engine = engine;
    this.deployment = deployment;
    this.service = service;
  }

  @Override
  public long markNow() {
    Instant now = Instant.now();
    return now.getEpochSecond() * 1_000_000_000L + now.getNano();
  }

  /**
   * The engine's log stream of each running container of the service, from now on: a line written
   * is told as soon as the engine has it, whatever its logging driver.
   */
  @Override
  public AutoCloseable follow(Runnable written) {
    List<AutoCloseable> streams = new ArrayList<>();
    AutoCloseable all =
        () -> {
          for (AutoCloseable s : streams) {
            s.close();
          }
        };
    try {
      for (Container c : engine.containers(deployment)) {
        if (service.equals(c.getLabels().get(ComposeRuntime.LABEL_SERVICE))
            && "running".equals(c.getState())) {
          streams.add(engine.follow(c.getId(), written));
        }
      }
    } catch (RuntimeException e) {
      try {
        all.close();
      } catch (Exception closing) {
        e.addSuppressed(closing);
      }
      throw e;
    }
    return all;
  }

  /**
   * The lines after {@code mark} of every container of the service. A container's output is read up
   * to the engine reader's limit; when one was cut there, the chunk ends at the last line read of
   * it, and the lines of the others after that are read next time: none is counted twice or never.
   */
  @Override
  public Chunk readAfter(long mark) {
    List<EngineContainers.Stamped> lines = new ArrayList<>();
    long upTo = Long.MAX_VALUE;
    for (Container c : engine.containers(deployment)) {
      if (!service.equals(c.getLabels().get(ComposeRuntime.LABEL_SERVICE))) {
        continue;
      }
      EngineContainers.Output output = engine.after(c.getId(), mark);
      lines.addAll(output.lines());
      if (output.cut()) {
        long last =
            output.lines().stream().mapToLong(EngineContainers.Stamped::ts).max().orElse(mark);
        upTo = Math.min(upTo, last);
      }
    }
    StringBuilder out = new StringBuilder();
    long next = mark;
    for (EngineContainers.Stamped l : lines) {
      if (l.ts() <= upTo) {
        out.append(l.text()).append('\n');
        next = Math.max(next, l.ts());
      }
    }
    return new Chunk(out.toString(), next);
  }
}
