package io.vtrack.agent.check;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vtrack.agent.model.CheckSpec;
import java.io.BufferedWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The log check on real files: what it counts when a log grows by more than it reads at once. */
class LogCheckTest {
  private final Vertx vertx = Vertx.vertx();
  private final WorkerExecutor pool = vertx.createSharedWorkerExecutor("log-check-test");
  @TempDir Path tmp;

  @AfterEach
  void close() {
    vertx.close().await();
  }

  private LogCheck check(Path log, int max) {
    return new LogCheck(spec(log, max), pool, log, true, 0);
  }

  private static CheckSpec spec(Path log, int max) {
    return new CheckSpec(
        "no-errors",
        null,
        null,
        null,
        new CheckSpec.Log(log.toString(), null, "(?i)\\berror\\b", max),
        null,
        null,
        null);
  }

  private static void append(Path log, String line, int times) throws Exception {
    try (BufferedWriter w =
        Files.newBufferedWriter(log, StandardOpenOption.CREATE, StandardOpenOption.APPEND)) {
      for (int i = 0; i < times; i++) {
        w.write(line);
        w.write('\n');
      }
    }
  }

  private CheckResult run(LogCheck c) throws Exception {
    return c.run().toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
  }

  /**
   * An error followed by 20 MB of other lines before the next count: the error is counted (the log
   * is read in pieces from where the last count ended, not only its last megabytes).
   */
  @Test
  void anErrorBeforeMegabytesOfOtherLinesIsCounted() throws Exception {
    Path log = tmp.resolve("app.log");
    append(log, "started", 1);
    LogCheck c = check(log, 0);
    assertThat(run(c).status()).isEqualTo(CheckStatus.Passing);
    append(log, "ERROR cannot open the camera database", 1);
    append(log, "GET /api/cameras 200 in 3 ms from 127.0.0.1, a line of ordinary traffic", 300_000);
    CheckResult r = run(c);
    assertThat(r.status()).isEqualTo(CheckStatus.Failing);
    assertThat(r.value()).isEqualTo("1");
    assertThat(r.message()).contains("ERROR cannot open the camera database");
  }

  /** Every error in a log that grew by more than one piece is counted, each once. */
  @Test
  void errorsAcrossPiecesAreEachCountedOnce() throws Exception {
    Path log = tmp.resolve("app.log");
    LogCheck c = check(log, 1_000_000);
    append(log, "error number one in a long line of text to fill the log quickly", 400_000);
    assertThat(run(c).value()).isEqualTo("400000");
    append(log, "ok", 10);
    assertThat(run(c).value()).isEqualTo("400000");
  }

  /** A line still being written (no newline yet) is counted once it is whole. */
  @Test
  void aPartialLineIsCountedOnceWhole() throws Exception {
    Path log = tmp.resolve("app.log");
    Files.writeString(log, "");
    LogCheck c = check(log, 5);
    Files.writeString(log, "ERR", StandardOpenOption.APPEND);
    assertThat(run(c).value()).isEqualTo("0");
    Files.writeString(log, "OR at last\n", StandardOpenOption.APPEND);
    assertThat(run(c).value()).isEqualTo("1");
  }

  /**
   * What a count covers is said: a rollout's release from its start (the mark taken before it
   * started, so lines written before its first round count), a rollback's verification of a release
   * that may have run all along from its first round, and what runs per round.
   */
  @Test
  void theMessageSaysWhatTheCountCovers() throws Exception {
    Path log = tmp.resolve("app.log");
    append(log, "error from the release that ran before", 1);
    long mark = Files.size(log);
    append(log, "error while starting", 1);
    assertThat(run(new LogCheck(spec(log, 5), pool, log, true, mark)).message())
        .isEqualTo("1 matching lines since it started");
    LogCheck rollback = new LogCheck(spec(log, 5), pool, log, true, -1);
    append(log, "error in the first round", 1);
    assertThat(run(rollback).message()).isEqualTo("1 matching lines since verification began");
    LogCheck monitor = new LogCheck(spec(log, 5), pool, log, false, -1);
    assertThat(run(monitor).message()).isEqualTo("0 matching lines in the last round");
  }
}
