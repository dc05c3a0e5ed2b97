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
}
