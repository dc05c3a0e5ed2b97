package io.vtrack.agent.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LogFilesTest {
  @TempDir Path tmp;

  @Test
  void theTailSinceAnOffsetLeavesOutEarlierRuns() throws Exception {
    Path log = tmp.resolve("backend.log");
    Files.writeString(log, "old run: listening\nold run: stopping\n");
    long since = Files.size(log);
    Files.writeString(log, "Traceback\nboom\n", java.nio.file.StandardOpenOption.APPEND);

    assertThat(LogFiles.tail(log, 600, since)).isEqualTo("Traceback\nboom\n");
    assertThat(LogFiles.tail(log, 5, since)).isEqualTo("…boom\n");
    assertThat(LogFiles.tail(log, 600)).startsWith("old run");
  }

  @Test
  void aFileTruncatedSinceTheOffsetIsReadWhole() throws Exception {
    Path log = tmp.resolve("backend.log");
    Files.writeString(log, "after rotation\n");
    assertThat(LogFiles.tail(log, 600, 10_000)).isEqualTo("after rotation\n");
    assertThat(LogFiles.tail(tmp.resolve("missing.log"), 600, 0)).isEmpty();
  }

  @Test
  void aRotationKeepsTheLastLinesUpToTheCapAndSaysWhatWentBefore() throws Exception {
    Path log = tmp.resolve("backend.log");
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 5000; i++) {
      sb.append("line ").append(i).append(' ').append("x".repeat(90)).append('\n');
    }
    Files.writeString(log, sb);
    Files.writeString(tmp.resolve("backend.log.1"), "the rotation before\n");
    long size = Files.size(log);

    assertThat(LogFiles.rotateIfNeeded(log, 100_000, 3)).isTrue();

    assertThat(log).isEmptyFile();
    assertThat(tmp.resolve("backend.log.2")).hasContent("the rotation before");
    String kept = Files.readString(tmp.resolve("backend.log.1"));
    String[] lines = kept.split("\n");
    assertThat(lines[0]).startsWith("[vtrack: ").contains("bytes of output before this line");
    long dropped = Long.parseLong(lines[0].replaceAll("\\[vtrack: (\\d+) bytes.*", "$1"));
    assertThat(lines[1]).startsWith("line ");
    assertThat(lines[lines.length - 1]).startsWith("line 4999 ");
    assertThat(dropped + kept.length() - lines[0].length() - 1).isEqualTo(size);
    assertThat(kept.length() - lines[0].length() - 1).isLessThanOrEqualTo(100_000);
    assertThat(LogFiles.rotateIfNeeded(log, 100_000, 3)).isFalse();
  }

  /**
   * A real process flooding its output into a blue-green colour's log (opened in append mode, as
   * the agent opens it for a service): passes of rotateLogs keep every file near the cap, and the
   * process goes on writing into the truncated file.
   */
  @Test
  void aServiceFloodingItsOutputIsKeptNearTheCap() throws Exception {
    Path logs = tmp.resolve("deployments/app/logs/green");
    Path log = LogFiles.ownerOnly(logs, "backend.log");
    Process yes =
        new ProcessBuilder("yes", "debug: " + "x".repeat(200))
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
            .start();
    try {
      int rotations = 0;
      long deadline = System.nanoTime() + java.time.Duration.ofSeconds(60).toNanos();
      while (rotations < 5 && System.nanoTime() < deadline) {
        rotations += ProcessRuntime.rotateLogs(tmp.resolve("deployments")).size();
      }
      assertThat(rotations).isEqualTo(5);
      // Still writing, into the same (truncated) file.
      long now = Files.size(log);
      org.awaitility.Awaitility.await()
          .atMost(java.time.Duration.ofSeconds(30))
          .until(() -> Files.size(log) > now || Files.size(log) < now);
      for (int i = 1; i <= 3; i++) {
        assertThat(Files.size(Path.of(log + "." + i)))
            .isLessThanOrEqualTo(LogFiles.DEFAULT_MAX_BYTES + 200);
      }
      assertThat(Path.of(log + ".4")).doesNotExist();
    } finally {
      yes.destroyForcibly().waitFor();
    }
  }

  @Test
  void theServiceLogsFollowTheLiveColourAndGoWithRecreate() throws Exception {
    Path logs = tmp.resolve("deployments/vtrack/logs");
    Files.createDirectories(logs.resolve("blue"));
    Files.createDirectories(logs.resolve("green"));
    Files.writeString(logs.resolve("blue/backend.log"), "blue says\n");
    Files.writeString(logs.resolve("green/backend.log"), "green says\n");
    // What the release started with recreate wrote, where the link goes.
    Files.writeString(logs.resolve("backend.log"), "recreate said\n");

    LogFiles.linkLive(logs, "blue", java.util.List.of("backend", "old"));
    assertThat(Files.readSymbolicLink(logs.resolve("backend.log")))
        .isEqualTo(Path.of("blue/backend.log"));
    assertThat(Files.readString(logs.resolve("backend.log"))).isEqualTo("blue says\n");
    assertThat(Files.readString(logs.resolve("backend.log.recreate"))).isEqualTo("recreate said\n");
    assertThat(Files.isSymbolicLink(logs.resolve("old.log"))).isTrue();

    // The switch: one rename; a service the document no longer has loses its link.
    LogFiles.linkLive(logs, "green", java.util.List.of("backend"));
    assertThat(Files.readString(logs.resolve("backend.log"))).isEqualTo("green says\n");
    assertThat(Files.exists(logs.resolve("old.log"), java.nio.file.LinkOption.NOFOLLOW_LINKS))
        .isFalse();
    // Rotation rotates the colour's file once, never through the link.
    Files.writeString(logs.resolve("green/backend.log"), "x\n".repeat(6 << 20));
    assertThat(ProcessRuntime.rotateLogs(tmp.resolve("deployments")))
        .containsExactly(logs.resolve("green/backend.log"));
    assertThat(Files.exists(logs.resolve("backend.log.1"))).isFalse();
    assertThat(Files.size(logs.resolve("green/backend.log"))).isZero();
    Files.writeString(logs.resolve("green/backend.log"), "x".repeat(100));

    LogFiles.unlinkLive(logs);
    assertThat(Files.exists(logs.resolve("backend.log"), java.nio.file.LinkOption.NOFOLLOW_LINKS))
        .isFalse();
    // A release that recreates gets a file of its own, not the live colour's through a link.
    LogFiles.linkLive(logs, "green", java.util.List.of("backend"));
    Path own = LogFiles.ownerOnly(logs, "backend.log");
    assertThat(Files.isSymbolicLink(own)).isFalse();
    assertThat(Files.readString(logs.resolve("green/backend.log"))).isEqualTo("x".repeat(100));
  }
}
