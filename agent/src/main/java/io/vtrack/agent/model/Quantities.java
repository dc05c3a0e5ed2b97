package io.vtrack.agent.model;

import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parses and formats the duration, size and percentage notations of the desired-state document. */
public final class Quantities {
  private static final Pattern DURATION = Pattern.compile("(\\d+(?:\\.\\d+)?)(ms|s|m|h)");
  private static final Pattern SIZE = Pattern.compile("(\\d+(?:\\.\\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T|B)?");
  private static final Pattern PERCENT = Pattern.compile("(\\d+(?:\\.\\d+)?)%");

  private Quantities() {}

  /**
   * Parses {@code 500ms}, {@code 10s}, {@code 5m}, {@code 1h} or a sequence such as {@code 1m30s}.
   */
  private static final double YEAR_MILLIS = 365.25 * 86_400_000L;

  public static Duration parseDuration(String text) {
    String s = text == null ? "" : text.trim();
    if (s.isEmpty()) {
      throw new IllegalArgumentException("empty duration (expected e.g. 500ms, 10s, 5m, 1h)");
    }
    Matcher m = DURATION.matcher(s);
    long millis = 0;
    int end = 0;
    while (m.find()) {
      if (m.start() != end) {
        break;
      }
      double value = Double.parseDouble(m.group(1));
      long unit =
          switch (m.group(2)) {
            case "ms" -> 1L;
            case "s" -> 1000L;
            case "m" -> 60_000L;
            default -> 3_600_000L;
          };
      millis += Math.round(value * unit);
      if (value * unit > YEAR_MILLIS || millis > YEAR_MILLIS) {
        throw new IllegalArgumentException(
            "duration '" + text + "' is longer than a year: no setting needs that");
      }
      end = m.end();
    }
    if (end != s.length() || end == 0) {
      throw new IllegalArgumentException(
          "invalid duration '" + text + "' (expected e.g. 500ms, 10s, 5m, 1h)");
    }
    return Duration.ofMillis(millis);
  }

  public static String formatDuration(Duration d) {
    long ms = d.toMillis();
    if (ms % 3_600_000 == 0 && ms != 0) {
      return ms / 3_600_000 + "h";
    }
    if (ms % 60_000 == 0 && ms != 0) {
      return ms / 60_000 + "m";
    }
    if (ms % 1000 == 0) {
      return ms / 1000 + "s";
    }
    return ms + "ms";
  }

  /** Parses {@code 512Mi}, {@code 1Gi}, {@code 10M} or a plain number of bytes. */
  public static long parseSize(String text) {
    String s = text == null ? "" : text.trim();
    Matcher m = SIZE.matcher(s);
    if (!m.matches()) {
      throw new IllegalArgumentException(
          "invalid size '" + text + "' (expected e.g. 1048576, 512Mi, 1Gi)");
    }
    double value = Double.parseDouble(m.group(1));
    String unit = m.group(2) == null ? "B" : m.group(2);
    long factor =
        switch (unit) {
          case "Ki" -> 1L << 10;
          case "Mi" -> 1L << 20;
          case "Gi" -> 1L << 30;
          case "Ti" -> 1L << 40;
          case "k" -> 1_000L;
          case "M" -> 1_000_000L;
          case "G" -> 1_000_000_000L;
          case "T" -> 1_000_000_000_000L;
          default -> 1L;
        };
    double bytes = value * factor;
    if (bytes > MAX_SIZE) {
      throw new IllegalArgumentException(
          "size '" + text + "' is larger than 1Pi: no host has that much memory or disk");
    }
    return Math.round(bytes);
  }

  /** 1Pi: more than any memory limit or disk a setting can mean. */
  private static final double MAX_SIZE = (double) (1L << 50);

  /** A size for people: {@code 106.9Mi}, {@code 7.6Gi}, {@code 512 bytes}. */
  public static String human(long bytes) {
    String[] units = {"Ki", "Mi", "Gi", "Ti"};
    if (bytes < 1024) {
      return bytes + " bytes";
    }
    double v = bytes;
    int u = -1;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return String.format(Locale.ROOT, "%.1f%s", v, units[u]);
  }

  public static String formatSize(long bytes) {
    if (bytes != 0 && bytes % (1L << 30) == 0) {
      return bytes / (1L << 30) + "Gi";
    }
    if (bytes != 0 && bytes % (1L << 20) == 0) {
      return bytes / (1L << 20) + "Mi";
    }
    if (bytes != 0 && bytes % (1L << 10) == 0) {
      return bytes / (1L << 10) + "Ki";
    }
    return Long.toString(bytes);
  }

  /** Parses {@code 10%} into the fraction 0.10. */
  public static double parsePercent(String text) {
    String s = text == null ? "" : text.trim();
    Matcher m = PERCENT.matcher(s);
    if (!m.matches()) {
      throw new IllegalArgumentException("invalid percentage '" + text + "' (expected e.g. 10%)");
    }
    return Double.parseDouble(m.group(1)) / 100.0;
  }

  public static String formatPercent(double fraction) {
    double pct = fraction * 100.0;
    if (pct == Math.rint(pct)) {
      return String.format(Locale.ROOT, "%d%%", (long) pct);
    }
    return String.format(Locale.ROOT, "%s%%", pct);
  }
}
