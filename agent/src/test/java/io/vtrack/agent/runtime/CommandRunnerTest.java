package io.vtrack.agent.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** One-shot commands (prepare, validate, command checks) as real child processes. */
class CommandRunnerTest {
  private static final Path CWD = Path.of(System.getProperty("java.io.tmpdir"));

  @Test
  void reportsTheExitCodeAndTheOutput() {
    CommandRunner.Result r =
        CommandRunner.run(
            List.of("sh", "-c", "echo out; echo err >&2; exit 3"),
            CWD,
            Map.of(),
            Duration.ofSeconds(30));
    assertThat(r.exitCode()).isEqualTo(3);
    assertThat(r.timedOut()).isFalse();
    assertThat(r.output()).isEqualTo("out\nerr\n");
  }

  @Test
  void aCommandPastItsTimeoutIsKilled() {
    CommandRunner.Result r =
        CommandRunner.run(
            List.of("sh", "-c", "echo started; exec sleep 60"),
            CWD,
            Map.of(),
            // Time enough for a busy machine to start the shell and let it print; the sleep
            // outlasts it by far.
            Duration.ofSeconds(5));
    assertThat(r.timedOut()).isTrue();
    assertThat(r.output()).isEqualTo("started\n");
  }

  /**
   * The output file has no name while the command runs, so an agent killed meanwhile leaves nothing
   * in /tmp. The command waits until the file its output goes to is gone, then says so: with a file
   * that kept its name until the end, it would run into its timeout.
   */
  @Test
  void theOutputFileHasNoNameWhileTheCommandRuns() {
    CommandRunner.Result r =
        CommandRunner.run(
            List.of(
                "sh",
                "-c",
                "f=$(readlink /proc/$$/fd/1); f=${f% (deleted)}; "
                    + "while [ -e \"$f\" ]; do sleep 0.01; done; echo \"gone: $f\""),
            CWD,
            Map.of(),
            Duration.ofSeconds(60));
    assertThat(r.timedOut()).as("output: %s", r.output()).isFalse();
    assertThat(r.output()).startsWith("gone: ").contains("vtrack-cmd-");
  }
}
