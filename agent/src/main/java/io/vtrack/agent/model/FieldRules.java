package io.vtrack.agent.model;

import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The field rules the parts of a document share (durations in range, URLs, relative paths, argv
 * lists); each violation is added to one list, the document's.
 */
abstract class FieldRules {
  static final Pattern SUBST =
      Pattern.compile("\\$\\{(commit|shortCommit|revision|file:[^}]+|port:[^}]+)}");
  static final Pattern PORT_REF = Pattern.compile("\\$\\{port:([^}]*)}");

  final List<SpecValidator.Violation> out;

  FieldRules(List<SpecValidator.Violation> out) {
    this.out = out;
  }

  void fail(String field, String message) {
    out.add(new SpecValidator.Violation(field, message));
  }

  void checkCommand(String field, List<String> command) {
    if (command.isEmpty() || command.get(0) == null || command.get(0).isBlank()) {
      fail(field, "must be a non-empty argv list");
    }
  }

  void within(String field, Interval value, long minMillis, long maxMillis) {
    if (value.millis() > 0 && (value.millis() < minMillis || value.millis() > maxMillis)) {
      fail(
          field,
          value.text()
              + " is out of range ("
              + Interval.ofMillis(minMillis).text()
              + " to "
              + Interval.ofMillis(maxMillis).text()
              + ")");
    }
  }

  void positive(String field, Interval value) {
    if (value.millis() <= 0) {
      fail(field, "must be positive");
    }
  }

  void checkUrl(String field, String url, boolean httpOnly) {
    if (url == null || url.isBlank()) {
      fail(field, "is required");
      return;
    }
    try {
      URI uri = URI.create(SUBST.matcher(PORT_REF.matcher(url).replaceAll("1")).replaceAll("x"));
      if (uri.getScheme() == null
          || !(uri.getScheme().equals("http") || uri.getScheme().equals("https"))
          || uri.getHost() == null) {
        fail(field, "'" + url + "' is not an http(s) URL");
      }
    } catch (IllegalArgumentException e) {
      fail(field, "'" + url + "' is not a valid URL: " + e.getMessage());
    }
  }

  private static final Pattern FILE_REF = Pattern.compile("\\$\\{file:([^}]+)}");

  /**
   * Each {@code ${file:PATH}} in a value (a string, or the strings inside maps and lists) names a
   * file of the release: relative, not escaping it.
   */
  void fileRefs(String field, Object value) {
    if (value instanceof String s) {
      Matcher m = FILE_REF.matcher(s);
      while (m.find()) {
        relativePath(field, m.group(1), false);
      }
    } else if (value instanceof Map<?, ?> map) {
      map.values().forEach(v -> fileRefs(field, v));
    } else if (value instanceof List<?> list) {
      list.forEach(v -> fileRefs(field, v));
    }
  }

  /** Rejects absolute paths and paths that escape their root; returns whether the path is fine. */
  boolean relativePath(String field, String path, boolean allowDirSlash) {
    if (path == null || path.isBlank()) {
      fail(field, "must not be empty");
      return false;
    }
    if (!safeText(path)) {
      fail(field, "contains a NUL byte or a control character");
      return false;
    }
    if (path.startsWith("/")) {
      fail(field, "'" + path + "' must be relative");
      return false;
    }
    Path norm = Path.of(stripSlash(path)).normalize();
    if (norm.startsWith("..")) {
      fail(field, "'" + path + "' escapes the release root");
      return false;
    }
    return true;
  }

  /** A path with no NUL byte or control character (which no file name here needs). */
  static boolean safeText(String p) {
    return p != null && p.chars().noneMatch(c -> c < 0x20 || c == 0x7f);
  }

  static String stripSlash(String p) {
    return p.endsWith("/") ? p.substring(0, p.length() - 1) : p;
  }
}
