package io.vtrack.agent.runtime;

import com.github.dockerjava.api.model.Container;
import java.time.Instant;
import java.time.format.DateTimeParseException;
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

  @Override
  public Chunk readAfter(long mark) {
    StringBuilder out = new StringBuilder();
    long next = mark;
    int since = (int) Math.max(0, mark / 1_000_000_000L);
    for (Container c : engine.containers(deployment)) {
      if (!service.equals(c.getLabels().get(ComposeRuntime.LABEL_SERVICE))) {
        continue;
      }
      String text = engine.logs(c.getId(), since, null, true);
      for (String line : text.split("\n")) {
        int sp = line.indexOf(' ');
        if (sp <= 0) {
          continue;
        }
        long ts;
        try {
          Instant t = Instant.parse(line.substring(0, sp));
          ts = t.getEpochSecond() * 1_000_000_000L + t.getNano();
        } catch (DateTimeParseException e) {
          continue;
        }
        if (ts > mark) {
          out.append(line, sp + 1, line.length()).append('\n');
          next = Math.max(next, ts);
        }
      }
    }
    return new Chunk(out.toString(), next);
  }
}
