package io.vtrack.agent.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

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
  void aCommandThatPrintsWithoutPauseKeepsOnlyTheEndOfItsOutput() {
    // 2 MiB of output against a limit of 1 MiB: the command then waits (up to its timeout) until
    // its output file was cut, as seen through its own stdout, and prints one line more.
    String script =
        "head -c 2097152 /dev/zero | tr '\\0' x; echo;"
            + " while [ \"$(stat -L -c %s /proc/$$/fd/1)\" -ge 2097152 ]; do sleep 0.05; done;"
            + " echo last line";
    CommandRunner.Result r =
        CommandRunner.run(
            CommandPolicy.ANY,
            List.of("sh", "-c", script),
            CWD,
            Map.of(),
            Duration.ofSeconds(60),
            new CommandRunner.Stopper(),
            1L << 20);
    assertThat(r.ok()).as(r.describe()).isTrue();
    assertThat(r.output()).isEqualTo("(2 MiB of output dropped: over 1 MiB)\nlast line\n");
  }

  @Test
  void aStoppedCommandIsKilledAndNoneRunsAfter() throws Exception {
    CommandRunner.Stopper stopper = new CommandRunner.Stopper();
    java.util.concurrent.CompletableFuture<CommandRunner.Result> running =
        java.util.concurrent.CompletableFuture.supplyAsync(
            () ->
                CommandRunner.run(
                    CommandPolicy.ANY,
                    List.of("sh", "-c", "echo started; exec sleep 300"),
                    CWD,
                    Map.of(),
                    Duration.ofMinutes(10),
                    stopper));
    // Stopped once it runs (before, stop finds nothing to kill and the command does not start).
    await().atMost(Duration.ofSeconds(30)).until(() -> stopper.stop() || running.isDone());
    CommandRunner.Result r = running.get(30, java.util.concurrent.TimeUnit.SECONDS);
    assertThat(r.stopped()).isTrue();
    assertThat(r.ok()).isFalse();
    assertThat(r.describe()).startsWith("stopped after ");
    CommandRunner.Result after =
        CommandRunner.run(
            CommandPolicy.ANY,
            List.of("sh", "-c", "echo ran"),
            CWD,
            Map.of(),
            Duration.ofSeconds(30),
            stopper);
    assertThat(after.stopped()).isTrue();
    assertThat(after.output()).isEmpty();
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
   * What a command starts in a session of its own (a daemon, a helper server of a smoke test) is
   * out of the group killed after it, but goes too: a check that runs every round would otherwise
   * leave one more behind each time.
   */
  @Test
  void whatACommandStartedInASessionOfItsOwnDoesNotOutliveIt() throws Exception {
    for (String end : List.of("exit 0", "exec sleep 60")) {
      CommandRunner.Result r =
          CommandRunner.run(
              List.of("sh", "-c", "setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $!; " + end),
              CWD,
              Map.of(),
              // As above: time for a busy machine to start the shell; the sleep outlasts it.
              Duration.ofSeconds(end.startsWith("exit") ? 30 : 5));
      long pid = Long.parseLong(r.output().trim());
      // KILL is sent before run returns; the process is gone once the kernel has delivered it.
      await()
          .atMost(Duration.ofSeconds(10))
          .untilAsserted(
              () ->
                  assertThat(ProcStat.read(pid).filter(ProcStat::alive))
                      .as("after '%s'", end)
                      .isEmpty());
    }
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

  @Test
  void outputFilesLeftByAKilledAgentAreSweptAndNoOthers(@TempDir Path tmp) throws Exception {
    // Left by an agent killed between creating one and starting its command: an hour old.
    Path left = Files.createFile(tmp.resolve("vtrack-cmd-1234.log"));
    Files.setLastModifiedTime(left, FileTime.from(Instant.now().minus(Duration.ofHours(1))));
    // One being created now (another agent on the host), and another program's file.
    Path fresh = Files.createFile(tmp.resolve("vtrack-cmd-5678.log"));
    Path other = Files.createFile(tmp.resolve("other-1234.log"));
    Files.setLastModifiedTime(other, FileTime.from(Instant.now().minus(Duration.ofHours(1))));

    assertThat(CommandRunner.sweepLeftOutput(tmp, Duration.ofMinutes(1))).isEqualTo(1);
    assertThat(left).doesNotExist();
    assertThat(fresh).exists();
    assertThat(other).exists();
  }
}
