package io.vtrack.agent.check;

import io.vtrack.agent.release.ConfinedPath;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code ${commit}}, {@code ${shortCommit}}, {@code ${revision}}, {@code ${file:PATH}} in check
 * strings.
 */
public final class Substitutions {
  private static final Pattern VAR =
      Pattern.compile("\\$\\{(commit|shortCommit|revision|file:([^}]+))}");

  private final String commit;
  private final String revision;
  private final Path releaseDir;

  public Substitutions(String commit, String revision, Path releaseDir) {
    this.commit = commit;
    this.revision = revision;
    this.releaseDir = releaseDir;
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
          v = f.startsWith(releaseDir) ? Files.readString(f).trim() : "";
        } catch (IOException | RuntimeException e) {
          v = "";
        }
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
    if (value instanceof java.util.Map<?, ?> map) {
      java.util.Map<String, Object> out = new java.util.LinkedHashMap<>();
      map.forEach((k, v) -> out.put(String.valueOf(k), applyDeep(v)));
      return out;
    }
    if (value instanceof java.util.List<?> list) {
      return list.stream().map(this::applyDeep).toList();
    }
    return value;
  }
}
