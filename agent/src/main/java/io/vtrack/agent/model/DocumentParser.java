package io.vtrack.agent.model;

import java.util.ArrayList;
import java.util.List;
import org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException;
import tools.jackson.core.JacksonException;
import tools.jackson.core.StreamReadFeature;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.exc.UnrecognizedPropertyException;
import tools.jackson.dataformat.yaml.YAMLMapper;

/**
 * Parses desired-state files strictly: unknown fields, wrong types and bad notations are rejected
 * with the field and the line, and every document is then checked by {@link SpecValidator}.
 */
public final class DocumentParser {
  public static final YAMLMapper YAML =
      YAMLMapper.builder()
          .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
          .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
          .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
          // A key given twice (two `name:` lines) is an error, never "the last one wins".
          .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
          .build();

  /**
   * One document of a file. {@code document} is null when it could not be bound at all; {@code
   * name} is then recovered from the text where possible so the error can be attributed.
   */
  public record Parsed(
      VTrackDeployment document, String name, String origin, int line, List<SpecError> errors) {
    public boolean valid() {
      return errors.isEmpty() && document != null;
    }
  }

  private DocumentParser() {}

  /**
   * The documents of {@code text} (separated by {@code ---}), each parsed and validated; a document
   * of another API (a ConfigMap or a Deployment beside ours in a GitOps folder) is someone else's
   * and left out ({@link #foreign}).
   */
  public static List<Parsed> parseAll(String text, String origin, SpecValidator.Context ctx) {
    List<Parsed> out = new ArrayList<>();
    String[] lines = text.split("\n", -1);
    StringBuilder chunk = new StringBuilder();
    int chunkStart = 0;
    for (int i = 0; i <= lines.length; i++) {
      boolean separator = i < lines.length && separator(lines[i]);
      if (i == lines.length || separator) {
        if (hasContent(chunk) && !foreign(chunk.toString())) {
          out.add(parseOne(chunk.toString(), origin, chunkStart, ctx));
        }
        chunk.setLength(0);
        chunkStart = i + 1;
        continue;
      }
      chunk.append(lines[i]).append('\n');
    }
    return out;
  }

  /**
   * Whether a document is someone else's: it names an {@code apiVersion} and a {@code kind}, and
   * neither is ours nor near it ({@code v1} ConfigMap, {@code apps/v1} Deployment). One with either
   * missing, or that cannot be read, is ours and its errors say why; so is one with a slip in
   * either ({@code vtrack/v1alpha1}, {@code VTrackDeploymnet}), which would otherwise be dropped
   * from its source, and its deployment stopped, for a typo.
   */
  static boolean foreign(String chunk) {
    tools.jackson.databind.JsonNode root;
    try {
      root = YAML.readTree(chunk);
    } catch (JacksonException e) {
      return false;
    }
    if (root == null
        || !root.isObject()
        || !root.path("apiVersion").isString()
        || !root.path("kind").isString()) {
      return false;
    }
    String apiVersion = root.path("apiVersion").asString().toLowerCase(java.util.Locale.ROOT);
    String kind = root.path("kind").asString().toLowerCase(java.util.Locale.ROOT);
    return !apiVersion.contains("vtrack") && !kind.contains("vtrack");
  }

  private static boolean separator(String line) {
    return line.matches("^---\\s*(#.*)?$");
  }

  /** Whether {@code text} holds anything but blank lines, comments and {@code ---} separators. */
  public static boolean hasContent(CharSequence text) {
    for (String l : text.toString().split("\n")) {
      String t = l.trim();
      if (!t.isEmpty() && !t.startsWith("#") && !separator(l)) {
        return true;
      }
    }
    return false;
  }

  /** Parses one document; {@code lineOffset} is the number of file lines before it. */
  public static Parsed parseOne(
      String text, String origin, int lineOffset, SpecValidator.Context ctx) {
    YamlLineIndex index = YamlLineIndex.of(YAML, text, lineOffset);
    VTrackDeployment doc;
    try {
      doc = YAML.readValue(text, VTrackDeployment.class);
    } catch (JacksonException e) {
      SpecError tab = tabInIndentation(text, lineOffset);
      if (tab != null) {
        return new Parsed(null, guessName(text), origin, lineOffset + 1, List.of(tab));
      }
      SpecError err = toError(e, lineOffset);
      if (err.line() == null || err.line() <= lineOffset) {
        err = new SpecError(err.field(), index.lineOf(err.field()), err.message());
      }
      return new Parsed(null, guessName(text), origin, lineOffset + 1, List.of(err));
    }
    if (doc == null) {
      return new Parsed(
          null,
          null,
          origin,
          lineOffset + 1,
          List.of(new SpecError("", lineOffset + 1, "empty document")));
    }
    List<SpecError> errors = new ArrayList<>();
    for (SpecValidator.Violation v : SpecValidator.validate(doc, ctx)) {
      errors.add(new SpecError(v.field(), index.lineOf(v.field()), v.message()));
    }
    return new Parsed(doc, doc.name(), origin, lineOffset + 1, List.copyOf(errors));
  }

  /** YAML indents with spaces: a tab there is named with its own line, not the parser's. */
  private static SpecError tabInIndentation(String text, int lineOffset) {
    String[] lines = text.split("\n", -1);
    for (int i = 0; i < lines.length; i++) {
      String l = lines[i];
      int j = 0;
      while (j < l.length() && (l.charAt(j) == ' ' || l.charAt(j) == '\t')) {
        if (l.charAt(j) == '\t') {
          return new SpecError(
              "", lineOffset + i + 1, "a tab in the indentation (YAML indents with spaces only)");
        }
        j++;
      }
    }
    return null;
  }

  /** A one-line description of a binding error: field, line and what was wrong. */
  public static String describe(JacksonException e) {
    return toError(e, 0).toString();
  }

  static SpecError toError(JacksonException e, int lineOffset) {
    StringBuilder path = new StringBuilder();
    for (JacksonException.Reference ref : e.getPath()) {
      if (ref.getPropertyName() != null) {
        if (path.length() > 0) {
          path.append('.');
        }
        path.append(ref.getPropertyName());
      } else if (ref.getIndex() >= 0) {
        path.append('[').append(ref.getIndex()).append(']');
      }
    }
    Integer line =
        e.getLocation() == null || e.getLocation().getLineNr() <= 0
            ? null
            : e.getLocation().getLineNr() + lineOffset;
    String message;
    if (e instanceof UnrecognizedPropertyException u) {
      message =
          "unknown field '" + u.getPropertyName() + "' (allowed: " + u.getKnownPropertyIds() + ")";
    } else {
      message = rootMessage(e);
      if (message.startsWith("Duplicate Object property ")) {
        message =
            "key "
                + message.substring("Duplicate Object property ".length())
                + " is given twice (a key may appear once)";
      }
    }
    return new SpecError(path.toString(), line, message);
  }

  private static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    if (t instanceof IllegalArgumentException && t.getMessage() != null) {
      return t.getMessage();
    }
    if (t instanceof MarkedYamlEngineException y && y.getProblem() != null) {
      return yamlProblem(y);
    }
    String msg = e instanceof JacksonException j ? j.getOriginalMessage() : e.getMessage();
    if (msg == null) {
      return e.getClass().getSimpleName();
    }
    // Jackson's messages name Java types; keep the first sentence, which says what was wrong.
    int nl = msg.indexOf('\n');
    String first = nl > 0 ? msg.substring(0, nl) : msg;
    return JacksonMessages.humanize(first);
  }

  /**
   * What SnakeYAML was reading and what it found instead, e.g. "while scanning a quoted scalar,
   * found unexpected end of stream"; a document that ends in the middle of a value is said to be
   * cut short (a half-written file).
   */
  private static String yamlProblem(MarkedYamlEngineException y) {
    String problem = y.getProblem().strip();
    String what =
        y.getContext() == null || y.getContext().isBlank()
            ? problem
            : y.getContext().strip() + ", " + problem;
    boolean cut = problem.contains("end of stream") || problem.contains("<stream end>");
    return "not valid YAML: "
        + what
        + (cut ? " (the document ends in the middle of it: cut short, or not saved whole?)" : "");
  }

  private static String guessName(String text) {
    boolean inMeta = false;
    for (String l : text.split("\n")) {
      if (l.startsWith("metadata:")) {
        inMeta = true;
        continue;
      }
      if (inMeta && l.matches("^\\s+name:\\s*\\S+.*")) {
        return l.replaceFirst("^\\s+name:\\s*", "").replaceAll("[\"'#].*$", "").trim();
      }
      if (inMeta && !l.isBlank() && !Character.isWhitespace(l.charAt(0))) {
        inMeta = false;
      }
    }
    return null;
  }
}
