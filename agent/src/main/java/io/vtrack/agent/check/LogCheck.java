package io.vtrack.agent.check;

import io.vertx.core.WorkerExecutor;
import io.vtrack.agent.Texts;
import io.vtrack.agent.model.CheckSpec;
import io.vtrack.agent.runtime.LogSource;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Pattern;

/**
 * Counts lines matching a pattern in a log file, reading only what was appended since the last
 * round. During verification the count runs from the start of the release being verified (or, with
 * no mark taken before it started, from the first round); after Healthy, per round. A file that
 * shrank (rotated or truncated) is read again from its start.
 */
final class LogCheck extends BlockingCheck {
  private static final int MAX_READ = 8 << 20;

  private final Path file;
  private final LogSource source;
  private final LineMatcher matcher;
  private long skipped;
  private String lastSkipped;
  private final boolean verifying;

  /** What the count covers, as said in its message. */
  private final String where;

  private long offset;
  private long total;
  private String lastMatch;

  /** Read on the event loop without taking the lock a running round holds. */
  private volatile boolean overMax;

  /**
   * @param startOffset where to start reading (the file's size before the release started), or -1
   *     for its size now
   */
  LogCheck(CheckSpec spec, WorkerExecutor pool, Path file, boolean verifying, long startOffset) {
    super(spec, pool);
    this.file = file;
    this.source = null;
    this.matcher = new LineMatcher(Pattern.compile(spec.log().pattern()));
    this.verifying = verifying;
    this.where = where(verifying, startOffset);
    this.offset = startOffset >= 0 ? startOffset : sizeOf(file);
  }

  /**
   * A service's output from its runtime (containers: the engine's log API); {@code startMark} as
   * the source's marks, or -1 for now.
   */
  LogCheck(CheckSpec spec, WorkerExecutor pool, LogSource source, boolean verifying, long startMark)
      throws IOException {
    super(spec, pool);
    this.file = null;
    this.source = source;
    this.matcher = new LineMatcher(Pattern.compile(spec.log().pattern()));
    this.verifying = verifying;
    this.where = where(verifying, startMark);
    this.offset = startMark >= 0 ? startMark : source.markNow();
  }

  /**
   * A rollout marks its logs before it starts the release it verifies; a rollback's verification of
   * the last healthy release (which may have served all along) counts from its first round.
   */
  private static String where(boolean verifying, long mark) {
    if (!verifying) {
      return "in the last round";
    }
    return mark >= 0 ? "since it started" : "since verification began";
  }

  static long sizeOf(Path f) {
    try {
      return Files.exists(f) ? Files.size(f) : 0;
    } catch (IOException e) {
      return 0;
    }
  }

  /**
   * How long one round may spend matching: most of the check's timeout. What is not examined in
   * time is examined next round (files) or counted as not examined (container output).
   */
  private long deadline(long start) {
    return start + spec.effectiveTimeout().millis() * 800_000L;
  }

  @Override
  protected synchronized CheckResult check(long start) throws IOException {
    LineMatcher.Count c;
    if (source != null) {
      LogSource.Chunk chunk = source.readAfter(offset);
      byte[] bytes = chunk.text().getBytes(StandardCharsets.UTF_8);
      int[] stopped = {0};
      c = matcher.count(bytes, 0, bytes.length, deadline(start), stopped);
      offset = chunk.nextMark();
      if (stopped[0] < bytes.length) {
        c =
            new LineMatcher.Count(
                c.matches(), c.skipped() + 1, c.lastMatch(), "(the rest of the output)");
      }
    } else {
      c = readFile(start);
    }
    if (c.lastMatch() != null) {
      lastMatch = c.lastMatch();
    }
    if (c.skipped() > 0) {
      skipped += c.skipped();
      lastSkipped = c.lastSkipped();
    }
    return judge(c.matches(), start);
  }

  /**
   * Counts the whole lines written since the last count, {@value #MAX_READ} bytes at a time (a log
   * that grew by gigabytes is read in pieces, never at once), until the end or the round's
   * deadline: what is left is read next time. A partial last line is read again once it is whole; a
   * single line longer than a piece is counted as it is.
   */
  private LineMatcher.Count readFile(long start) throws IOException {
    long size = sizeOf(file);
    if (size < offset) {
      offset = 0;
    }
    LineMatcher.Count total = new LineMatcher.Count(0, 0, null, null);
    if (size <= offset) {
      return total;
    }
    byte[] buf = new byte[(int) Math.min(MAX_READ, size - offset)];
    try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "r")) {
      while (offset < size && System.nanoTime() < deadline(start)) {
        int len = (int) Math.min(buf.length, size - offset);
        raf.seek(offset);
        raf.readFully(buf, 0, len);
        int end = len;
        while (end > 0 && buf[end - 1] != '\n') {
          end--;
        }
        if (end == 0 && len < MAX_READ) {
          break; // a line still being written
        }
        end = end == 0 ? len : end;
        int[] stopped = {0};
        LineMatcher.Count c = matcher.count(buf, 0, end, deadline(start), stopped);
        total =
            new LineMatcher.Count(
                total.matches() + c.matches(),
                total.skipped() + c.skipped(),
                c.lastMatch() != null ? c.lastMatch() : total.lastMatch(),
                c.lastSkipped() != null ? c.lastSkipped() : total.lastSkipped());
        offset += stopped[0];
        if (stopped[0] < end) {
          break; // the deadline: the rest next time
        }
      }
    }
    return total;
  }

  /** During verification the count never falls, so it can pass its max with any write. */
  @Override
  public boolean grows() {
    return verifying;
  }

  @Override
  public AutoCloseable watchWrites(FileGrowth files, Runnable written) throws IOException {
    return file != null ? files.watch(file, written) : source.follow(written);
  }

  /** During verification the count runs from the release's start and never falls. */
  @Override
  public boolean failedForGood() {
    return overMax;
  }

  private CheckResult judge(int matches, long start) {
    long counted = verifying ? (total += matches) : matches;
    overMax = verifying && counted > spec.log().max();
    int max = spec.log().max();
    if (counted > max) {
      return result(
          CheckStatus.Failing,
          Long.toString(counted),
          counted
              + " matching lines "
              + where
              + " (max "
              + max
              + "), last: "
              + Texts.abbreviate(lastMatch, 160),
          start);
    }
    return result(
        CheckStatus.Passing,
        Long.toString(counted),
        counted + " matching lines " + where + skippedNote(),
        start);
  }

  /** Lines the pattern could not be run on in time are said, never counted against the app. */
  private String skippedNote() {
    if (skipped == 0) {
      return "";
    }
    return "; "
        + skipped
        + " line(s) skipped: the pattern took over "
        + LineMatcher.LINE_BUDGET_NANOS / 1_000_000
        + "ms on them (last: "
        + Texts.abbreviate(lastSkipped, 160)
        + ")";
  }
}
