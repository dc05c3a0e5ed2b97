package io.vtrack.agent.it;

import io.vtrack.agent.runtime.ProcStat;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Predicate;
import java.util.stream.Stream;

/** The living processes of this host, as {@code /proc} shows them, whoever started them. */
final class HostProcesses {
  private HostProcesses() {}

  /** Processes whose working folder lies in {@code dir}. */
  static List<Long> runningIn(Path dir) throws Exception {
    Path real = Files.exists(dir) ? dir.toRealPath() : dir;
    return matching(p -> Files.readSymbolicLink(p.resolve("cwd")).startsWith(real));
  }

  /** Processes whose command line holds {@code text}. */
  static List<Long> withCommandLine(String text) throws Exception {
    return matching(
        p ->
            new String(Files.readAllBytes(p.resolve("cmdline")), StandardCharsets.UTF_8)
                .contains(text));
  }

  private interface ProcTest {
    boolean test(Path procDir) throws Exception;
  }

  private static List<Long> matching(ProcTest test) throws Exception {
    Predicate<Path> safe =
        p -> {
          try {
            return test.test(p)
                && ProcStat.read(Long.parseLong(p.getFileName().toString()))
                    .map(ProcStat::alive)
                    .orElse(false);
          } catch (Exception e) {
            return false; // gone meanwhile, or not ours to read
          }
        };
    try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
      return procs
          .filter(p -> p.getFileName().toString().matches("\\d+"))
          .filter(safe)
          .map(p -> Long.parseLong(p.getFileName().toString()))
          .toList();
    }
  }
}
