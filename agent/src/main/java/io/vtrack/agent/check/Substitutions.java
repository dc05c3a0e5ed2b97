package io.vtrack.agent.check;

import io.vtrack.agent.release.ConfinedPath;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code ${commit}}, {@code ${shortCommit}}, {@code ${revision}}, {@code ${file:PATH}} and {@code
 * ${port:NAME}} in check strings (and, for ports, in service env and commands).
 */
public final class Substitutions {
  private static final Pattern VAR =
      Pattern.compile("\\$\\{(commit|shortCommit|revision|file:([^}]+)|port:([^}]+))}");

  /** The largest file a {@code ${file:PATH}} reads. */
  static final long MAX_FILE_BYTES = 1 << 20;

  private final String commit;
  private final String revision;
  private final Path releaseDir;
  private final Map<String, Integer> ports;

  public Substitutions(String commit, String revision, Path releaseDir) {
    this(commit, revision, releaseDir, Map.of());
  }

  /**
   * @param ports each service's loopback port in the instance checked ({@code ${port:NAME}})
   */
  public Substitutions(
      String commit, String revision, Path releaseDir, Map<String, Integer> ports) {
    this.commit = commit;
    this.revision = revision;
    this.releaseDir = releaseDir;
    this.ports = ports;
  }

  /** Applies the substitutions; reads release files, so call it off the event loop. */
  public String apply(String text) {
    if (text == null || !text.contains("${")) {
      return text;
    }
    Matcher m = VAR.matcher(text);
    StringBuilder sb = new StringBuilder();
    while (m.find()) {
      String v;
      if (m.group(2) != null) {
        try {
          // Only a file of the release: never through a link out of it.
          Path f = ConfinedPath.realInside(releaseDir, m.group(2));
          if (!f.startsWith(releaseDir)) {
            v = "";
          } else if (Files.size(f) > MAX_FILE_BYTES) {
            // Read at every round: a data file named by mistake must not fill the agent's memory.
            v = "${file:" + m.group(2) + " is over 1MiB, not read}";
          } else {
            v = Files.readString(f).trim();
          }
        } catch (IOException | RuntimeException e) {
          v = "";
        }
      } else if (m.group(3) != null) {
        Integer port = ports.get(m.group(3));
        v = port == null ? m.group(0) : Integer.toString(port);
      } else {
        v =
            switch (m.group(1)) {
              case "commit" -> commit;
              case "shortCommit" -> commit.substring(0, Math.min(7, commit.length()));
              default -> revision == null ? "" : revision;
            };
      }
      m.appendReplacement(sb, Matcher.quoteReplacement(v));
    }
    m.appendTail(sb);
    return sb.toString();
  }

  /** Applies substitutions to string values inside an expectation (maps and lists recursively). */
  public Object applyDeep(Object value) {
    if (value instanceof String s) {
      return apply(s);
    }
    if (value instanceof Map<?, ?> map) {
      Map<String, Object> out = new LinkedHashMap<>();
      map.forEach((k, v) -> out.put(String.valueOf(k), applyDeep(v)));
      return out;
    }
    if (value instanceof List<?> list) {
      return list.stream().map(this::applyDeep).toList();
    }
    return value;
  }
}
