package io.vtrack.agent.check;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The kernel's file events, as verification uses them to count a log the moment it is written. */
class FileGrowthTest {
  private final FileGrowth files = new FileGrowth();

  @AfterEach
  void close() throws Exception {
    files.close();
  }

  @Test
  void aWriteIsTold(@TempDir Path dir) throws Exception {
    Path log = Files.writeString(dir.resolve("app.log"), "started\n");
    AtomicInteger writes = new AtomicInteger();
    files.watch(log, writes::incrementAndGet);
    Files.writeString(log, "error\n", StandardOpenOption.APPEND);
    await().atMost(Duration.ofSeconds(10)).until(() -> writes.get() >= 1);
  }

  @Test
  void aFileBehindASymbolicLinkIsWatchedWhereItIs(@TempDir Path dir) throws Exception {
    // A release's backend/logs/ is a link to shared/backend/logs/.
    Path shared = Files.createDirectories(dir.resolve("shared/backend/logs"));
    Path release = Files.createDirectories(dir.resolve("releases/abc/backend"));
    Files.createSymbolicLink(release.resolve("logs"), shared);
    AtomicInteger writes = new AtomicInteger();
    files.watch(release.resolve("logs/app.log"), writes::incrementAndGet);
    Files.writeString(shared.resolve("app.log"), "error\n");
    await().atMost(Duration.ofSeconds(10)).until(() -> writes.get() >= 1);
  }

  @Test
  void otherFilesAndClosedWatchesAreNotTold(@TempDir Path dir) throws Exception {
    Path log = Files.writeString(dir.resolve("app.log"), "");
    Path other = Files.writeString(dir.resolve("other.log"), "");
    AtomicInteger logWrites = new AtomicInteger();
    AtomicInteger otherWrites = new AtomicInteger();
    AutoCloseable w = files.watch(log, logWrites::incrementAndGet);
    files.watch(other, otherWrites::incrementAndGet);
    w.close();
    Files.writeString(log, "error\n", StandardOpenOption.APPEND);
    // Written after the closed one: once it is told, the event for app.log has been handled.
    Files.writeString(other, "x\n", StandardOpenOption.APPEND);
    await().atMost(Duration.ofSeconds(10)).until(() -> otherWrites.get() >= 1);
    assertThat(logWrites.get()).isZero();
  }

  @Test
  void aFolderThatDoesNotExistIsNotWatched(@TempDir Path dir) throws Exception {
    AutoCloseable w = files.watch(dir.resolve("missing/app.log"), () -> {});
    w.close();
  }
}
