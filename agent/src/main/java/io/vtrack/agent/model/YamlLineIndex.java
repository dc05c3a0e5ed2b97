package io.vtrack.agent.model;

import java.util.HashMap;
import java.util.Map;
import tools.jackson.core.JacksonException;
import tools.jackson.core.JsonParser;
import tools.jackson.core.JsonToken;
import tools.jackson.dataformat.yaml.YAMLMapper;

/**
 * Maps field paths ({@code spec.health.checks[1].http.url}) to the line they stand on, so that
 * errors found after binding can still name the line.
 */
public final class YamlLineIndex {
  private final Map<String, Integer> lines = new HashMap<>();
  private final int offset;

  private YamlLineIndex(int offset) {
    this.offset = offset;
  }

  public static YamlLineIndex of(YAMLMapper mapper, String text, int lineOffset) {
    YamlLineIndex index = new YamlLineIndex(lineOffset);
    try (JsonParser p = mapper.createParser(text)) {
      JsonToken t;
      while ((t = p.nextToken()) != null) {
        if (t == JsonToken.END_OBJECT || t == JsonToken.END_ARRAY) {
          continue;
        }
        String path = toPath(p.streamReadContext().pathAsPointer().toString());
        index.lines.putIfAbsent(path, p.currentTokenLocation().getLineNr());
      }
    } catch (JacksonException e) {
      // A syntax error is reported by the binding pass with its own location.
    }
    return index;
  }

  /** The line of the path, or of its nearest ancestor that has one. */
  public Integer lineOf(String path) {
    String p = path;
    while (p != null && !p.isEmpty()) {
      Integer line = lines.get(p);
      if (line != null) {
        return line + offset;
      }
      int cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
      p = cut <= 0 ? null : p.substring(0, cut);
    }
    return null;
  }

  static String toPath(String pointer) {
    StringBuilder sb = new StringBuilder();
    for (String seg : pointer.split("/")) {
      if (seg.isEmpty()) {
        continue;
      }
      String s = seg.replace("~1", "/").replace("~0", "~");
      if (s.chars().allMatch(Character::isDigit)) {
        sb.append('[').append(s).append(']');
      } else {
        if (sb.length() > 0) {
          sb.append('.');
        }
        sb.append(s);
      }
    }
    return sb.toString();
  }
}
