package io.vtrack.agent.check;

import io.vertx.core.Vertx;
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
 * round. During verification the count runs from the switch; after Healthy, per round. A file that
 * shrank (rotated or truncated) is read again from its start.
 */
final class LogCheck extends BlockingCheck {
  private static final int MAX_READ = 8 << 20;

  private final Path file;
  private final LogSource source;
  private final Pattern pattern;
  private final boolean verifying;
  private long offset;
  private long total;
  private String lastMatch;

  /** Read on the event loop without taking the lock a running round holds. */
  private volatile boolean overMax;

  /**
   * @param startOffset where to start reading (the file's size at the switch), or -1 for its size
   *     now
   */
  LogCheck(CheckSpec spec, Vertx vertx, Path file, boolean verifying, long startOffset) {
    super(spec, vertx);
    this.file = file;
    this.source = null;
    this.pattern = Pattern.compile(spec.log().pattern());
    this.verifying = verifying;
    this.offset = startOffset >= 0 ? startOffset : sizeOf(file);
  }

  /**
   * A service's output from its runtime (containers: the engine's log API); {@code startMark} as
   * the source's marks, or -1 for now.
   */
  LogCheck(CheckSpec spec, Vertx vertx, LogSource source, boolean verifying, long startMark)
      throws IOException {
    super(spec, vertx);
    this.file = null;
    this.source = source;
    this.pattern = Pattern.compile(spec.log().pattern());
    this.verifying = verifying;
    this.offset = startMark >= 0 ? startMark : source.markNow();
  }

  private int count(String text) {
    int matches = 0;
    for (String line : text.split("\n")) {
      if (!line.isEmpty() && pattern.matcher(line).find()) {
        matches++;
        lastMatch = line;
      }
    }
    return matches;
  }

  static long sizeOf(Path f) {
    try {
      return Files.exists(f) ? Files.size(f) : 0;
    } catch (IOException e) {
      return 0;
    }
  }

  @Override
  protected synchronized CheckResult check(long start) throws IOException {
    int matches = 0;
    if (source != null) {
      LogSource.Chunk chunk = source.readAfter(offset);
      matches = count(chunk.text());
      offset = chunk.nextMark();
    } else {
      matches = readFile();
    }
    return judge(matches, start);
  }

  private int readFile() throws IOException {
    long size = sizeOf(file);
    if (size < offset) {
      offset = 0;
    }
    int matches = 0;
    if (size > offset) {
      long from = Math.max(offset, size - MAX_READ);
      byte[] buf;
      try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "r")) {
        buf = new byte[(int) (size - from)];
        raf.seek(from);
        raf.readFully(buf);
      }
      // Only whole lines count; a partial last line is read again next round.
      int end = buf.length;
      while (end > 0 && buf[end - 1] != '\n') {
        end--;
      }
      matches = count(new String(buf, 0, end, StandardCharsets.UTF_8));
      offset = from + end;
    }
    return matches;
  }

  /** During verification the count runs from the switch and never falls. */
  @Override
  public boolean failedForGood() {
    return overMax;
  }

  private CheckResult judge(int matches, long start) {
    long counted = verifying ? (total += matches) : matches;
    overMax = verifying && counted > spec.log().max();
    String where = verifying ? "since the switch" : "in the last round";
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
              + abbreviate(lastMatch),
          start);
    }
    return result(
        CheckStatus.Passing, Long.toString(counted), counted + " matching lines " + where, start);
  }

  private static String abbreviate(String s) {
    if (s == null) {
      return "";
    }
    return s.length() > 160 ? s.substring(0, 160) + "…" : s;
  }
}
