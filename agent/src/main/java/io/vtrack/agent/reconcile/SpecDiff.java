package io.vtrack.agent.reconcile;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import tools.jackson.databind.json.JsonMapper;

/** Field-by-field differences between two specs (canonical JSON), as path, running, desired. */
public final class SpecDiff {
  private static final JsonMapper JSON = JsonMapper.builder().build();

  private SpecDiff() {}

  public static List<Map<String, Object>> changes(String runningJson, String desiredJson) {
    Map<String, Object> a = new LinkedHashMap<>();
    Map<String, Object> b = new LinkedHashMap<>();
    if (runningJson != null) {
      flatten("", JSON.readValue(runningJson, Object.class), a);
    }
    if (desiredJson != null) {
      flatten("", JSON.readValue(desiredJson, Object.class), b);
    }
    List<Map<String, Object>> out = new ArrayList<>();
    TreeSet<String> keys = new TreeSet<>(a.keySet());
    keys.addAll(b.keySet());
    for (String k : keys) {
      Object x = a.get(k);
      Object y = b.get(k);
      if (x == null ? y != null : !x.equals(y)) {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("path", "spec" + k);
        c.put("running", x);
        c.put("desired", y);
        out.add(c);
      }
    }
    return out;
  }

  private static void flatten(String prefix, Object v, Map<String, Object> out) {
    if (v instanceof Map<?, ?> m) {
      if (m.isEmpty()) {
        out.put(prefix, Map.of());
      }
      m.forEach((k, x) -> flatten(prefix + "." + k, x, out));
    } else if (v instanceof List<?> l) {
      if (l.isEmpty()) {
        out.put(prefix, List.of());
      }
      for (int i = 0; i < l.size(); i++) {
        flatten(prefix + "[" + i + "]", l.get(i), out);
      }
    } else {
      out.put(prefix, v);
    }
  }
}
