package io.vtrack.agent.check;

import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;

/**
 * Matches log lines against a user's pattern under a time budget. Apps log what their clients send
 * (request paths), so a pattern with catastrophic backtracking and a line planted from outside
 * could otherwise spin a thread forever: each line is cut to {@link #MAX_LINE} characters and gets
 * at most {@link #LINE_BUDGET_NANOS}; a line that runs over is skipped (counted, not matched),
 * never held against the app.
 */
final class LineMatcher {
  /**
   * Characters of one line that are matched; the rest of a longer line is ignored. Room for a
   * structured (JSON) log line with a request or a stack trace in it, whose level comes last; the
   * time budget, not the length, is what stops a slow pattern.
   */
  static final int MAX_LINE = 64 << 10;

  static final long LINE_BUDGET_NANOS = 50_000_000L;

  private final Pattern pattern;

  /** What one batch of lines gave. */
  record Count(int matches, int skipped, String lastMatch, String lastSkipped) {}

  LineMatcher(Pattern pattern) {
    this.pattern = pattern;
  }

  /**
   * Counts the matching lines among the whole lines of {@code buf[from, end)}, stopping once {@code
   * deadlineNanos} passes; {@code stoppedAt[0]} is then the offset of the first line not examined.
   */
  Count count(byte[] buf, int from, int end, long deadlineNanos, int[] stoppedAt) {
    int matches = 0;
    int skipped = 0;
    String last = null;
    String lastSkipped = null;
    int pos = from;
    while (pos < end && System.nanoTime() <= deadlineNanos) {
      int nl = pos;
      while (nl < end && buf[nl] != '\n') {
        nl++;
      }
      int len = Math.min(nl - pos, MAX_LINE * 4);
      String line = new String(buf, pos, len, StandardCharsets.UTF_8);
      if (line.length() > MAX_LINE) {
        line = line.substring(0, MAX_LINE);
      }
      pos = nl < end ? nl + 1 : end;
      if (line.isEmpty()) {
        continue;
      }
      try {
        long lineDeadline = Math.min(deadlineNanos, System.nanoTime() + LINE_BUDGET_NANOS);
        if (pattern.matcher(new DeadlineText(line, lineDeadline)).find()) {
          matches++;
          last = line;
        }
      } catch (DeadlineText.TooSlow e) {
        skipped++;
        lastSkipped = line;
      }
    }
    stoppedAt[0] = pos;
    return new Count(matches, skipped, last, lastSkipped);
  }

  /** A line that gives up once its deadline passes: the regex engine reads it through charAt. */
  static final class DeadlineText implements CharSequence {
    static final class TooSlow extends RuntimeException {
      TooSlow() {
        super("pattern took too long", null, false, false);
      }
    }

    private final String s;
    private final long deadline;
    private int reads;

    DeadlineText(String s, long deadline) {
      this.s = s;
      this.deadline = deadline;
    }

    @Override
    public char charAt(int index) {
      if ((++reads & 0x3ff) == 0 && System.nanoTime() > deadline) {
        throw new TooSlow();
      }
      return s.charAt(index);
    }

    @Override
    public int length() {
      return s.length();
    }

    @Override
    public CharSequence subSequence(int start, int end) {
      return new DeadlineText(s.substring(start, end), deadline);
    }

    @Override
    public String toString() {
      return s;
    }
  }
}
