package io.vtrack.agent.model;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The small path language of check expectations: {@code a.b}, {@code a[0].b}, {@code [2]}. */
public final class JsonPath {
  /** A key, or an index of at most 9 digits (a list cannot be longer: an int always holds it). */
  private static final Pattern SEGMENT = Pattern.compile("([^.\\[\\]]+)|\\[(\\d{1,9})]");

  private static final Object MISSING = new Object();

  private JsonPath() {}

  public static boolean isValid(String path) {
    return parse(path) != null;
  }

  /** The segments of a path: Strings for keys, Integers for indexes; null if malformed. */
  static List<Object> parse(String path) {
    if (path == null || path.isEmpty()) {
      return null;
    }
    List<Object> segs = new ArrayList<>();
    Matcher m = SEGMENT.matcher(path);
    int pos = 0;
    while (pos < path.length()) {
      if (path.charAt(pos) == '.' && pos > 0) {
        pos++;
      }
      if (!m.find(pos) || m.start() != pos) {
        return null;
      }
      segs.add(m.group(1) != null ? m.group(1) : Integer.valueOf(m.group(2)));
      pos = m.end();
    }
    return segs;
  }

  /** Whether the path exists in a value made of Maps and Lists. */
  public static boolean exists(Object root, String path) {
    return get(root, path) != MISSING;
  }

  /** The value at the path, or {@link #missing()} when it does not exist. */
  public static Object get(Object root, String path) {
    List<Object> segs = parse(path);
    if (segs == null) {
      return MISSING;
    }
    Object cur = root;
    for (Object seg : segs) {
      if (seg instanceof String key && cur instanceof Map<?, ?> map) {
        if (!map.containsKey(key)) {
          return MISSING;
        }
        cur = map.get(key);
      } else if (seg instanceof Integer idx && cur instanceof List<?> list) {
        if (idx >= list.size()) {
          return MISSING;
        }
        cur = list.get(idx);
      } else {
        return MISSING;
      }
    }
    return cur;
  }

  public static Object missing() {
    return MISSING;
  }
}
