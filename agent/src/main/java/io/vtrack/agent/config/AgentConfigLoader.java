package io.vtrack.agent.config;

import io.vtrack.agent.model.DocumentParser;
import io.vtrack.agent.model.Interval;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;

/** Reads {@code agent.yaml} strictly; errors name the field and the line. */
public final class AgentConfigLoader {
  private AgentConfigLoader() {}

  /** Thrown when agent.yaml cannot be used; the message names the file, field and line. */
  public static final class InvalidConfigException extends Exception {
    public InvalidConfigException(String message) {
      super(message);
    }
  }

  private static final long DAY = 86_400_000L;

  /** A Kubernetes label value, as {@code vtrack.io/agent} holds the agent's name. */
  private static final Pattern LABEL_VALUE =
      Pattern.compile(io.vtrack.agent.model.SchemaPatterns.LABEL_VALUE);

  /** Whether a YAML text holds nothing but blank lines, comments and document markers. */
  static boolean noSettings(String text) {
    for (String line : text.split("\\R")) {
      String t = line.strip();
      if (!t.isEmpty() && !t.startsWith("#") && !t.equals("---") && !t.equals("...")) {
        return false;
      }
    }
    return true;
  }

  private static void blank(List<String> errors, String field, JsonNode value) {
    if (value != null && (value.isNull() || (value.isString() && value.asString().isBlank()))) {
      errors.add(field + ": has no value (leave the key out for its default)");
    }
  }

  private static void bounded(List<String> errors, String field, Interval v, long min, long max) {
    if (v.millis() < min || v.millis() > max) {
      errors.add(
          field
              + ": "
              + v.text()
              + " is out of range ("
              + Interval.ofMillis(min).text()
              + " to "
              + Interval.ofMillis(max).text()
              + ")");
    }
  }

  public static AgentConfig load(Path file) throws InvalidConfigException {
    String text;
    try {
      text = Files.readString(file);
    } catch (IOException e) {
      throw new InvalidConfigException(
          "cannot read " + file + ": " + io.vtrack.agent.IoErrors.describe(e));
    }
    return parse(text, file.toString());
  }

  public static AgentConfig parse(String text, String origin) throws InvalidConfigException {
    if (noSettings(text)) {
      // A file cut short or emptied by a failed edit must not start an agent on the defaults: one
      // with no sources and another state folder, or the same one with every deployment gone.
      throw new InvalidConfigException(
          origin
              + ": holds no settings (empty, or only comments); nothing was started. Write the"
              + " settings, or run without --config for the defaults");
    }
    AgentConfig cfg;
    try {
      cfg = DocumentParser.YAML.readValue(text, AgentConfig.class);
    } catch (JacksonException e) {
      throw new InvalidConfigException(origin + ": " + DocumentParser.describe(e));
    }
    if (cfg == null) {
      throw new InvalidConfigException(origin + ": expected a map of settings, got null");
    }
    List<String> errors = new ArrayList<>();
    JsonNode tree = DocumentParser.YAML.readTree(text);
    // A key given with no value (`stateDir:`, `stateDir: ""`, a template variable that expanded to
    // nothing) is a file written half, not a wish for the default: an agent on the default state
    // folder or name may be another agent's.
    for (String key : List.of("agentName", "stateDir", "listen", "logFormat")) {
      blank(errors, key, tree.get(key));
    }
    blank(errors, "auth.tokenFile", tree.path("auth").get("tokenFile"));
    if (tree.has("agentName") && !LABEL_VALUE.matcher(cfg.agentName()).matches()) {
      // It is matched against the vtrack.io/agent label of documents and resources. (A host or
      // node name that is no label value still serves the documents with no such label.)
      errors.add(
          "agentName: '"
              + cfg.agentName()
              + "' is not a valid label value (at most 63 letters, digits, '-', '_' or '.',"
              + " beginning and ending with a letter or digit)");
    }
    try {
      int port = cfg.port();
      if (port < 0 || port > 65535) {
        errors.add("listen: port out of range in '" + cfg.listen() + "'");
      }
    } catch (NumberFormatException e) {
      errors.add("listen: expected host:port, got '" + cfg.listen() + "'");
    }
    if (!List.of("text", "json").contains(cfg.logFormat())) {
      errors.add("logFormat: must be text or json, got '" + cfg.logFormat() + "'");
    }
    for (int i = 0; i < cfg.sources().size(); i++) {
      AgentConfig.SourceConfig s = cfg.sources().get(i);
      int set =
          (s.git() != null ? 1 : 0) + (s.kubernetes() != null ? 1 : 0) + (s.file() != null ? 1 : 0);
      if (set != 1) {
        errors.add("sources[" + i + "]: give exactly one of git, kubernetes, file");
        continue;
      }
      if (s.git() != null && (s.git().repoURL() == null || s.git().repoURL().isBlank())) {
        errors.add("sources[" + i + "].git.repoURL: is required");
      }
      if (s.file() != null && (s.file().path() == null || s.file().path().isBlank())) {
        errors.add("sources[" + i + "].file.path: is required");
      }
      if (s.git() != null) {
        bounded(errors, "sources[" + i + "].git.interval", s.git().interval(), 100, DAY);
        String path = s.git().path();
        if (path.startsWith("/") && !path.equals("/")) {
          errors.add(
              "sources["
                  + i
                  + "].git.path: '"
                  + path
                  + "' must be a folder of the repository, relative to its root");
        } else if (java.util.Arrays.asList(path.split("/")).contains("..")) {
          errors.add("sources[" + i + "].git.path: '" + path + "' leaves the repository ('..')");
        }
      }
      if (s.file() != null) {
        bounded(errors, "sources[" + i + "].file.interval", s.file().interval(), 100, DAY);
      }
    }
    bounded(errors, "gitTimeout", cfg.gitTimeout(), 1_000, 3_600_000);
    if (cfg.retention().rollouts() < 1) {
      errors.add("retention.rollouts: must be at least 1, got " + cfg.retention().rollouts());
    }
    if (cfg.retention().failedCopies() < 1) {
      errors.add(
          "retention.failedCopies: must be at least 1, got " + cfg.retention().failedCopies());
    }
    for (int i = 0; i < cfg.allowedCommands().size(); i++) {
      String a = cfg.allowedCommands().get(i);
      if (a == null || a.isBlank()) {
        errors.add("allowedCommands[" + i + "]: must not be empty");
      } else if (a.contains("/") && !a.startsWith("/")) {
        errors.add(
            "allowedCommands["
                + i
                + "]: '"
                + a
                + "' must be a program name (looked up on the agent's PATH) or an absolute path");
      }
    }
    if (!errors.isEmpty()) {
      throw new InvalidConfigException(origin + ": " + String.join("; ", errors));
    }
    return cfg;
  }
}
