package io.vtrack.agent.model;

import io.vtrack.agent.Texts;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Turns Jackson's binding messages, which name Java types, into what a person writing YAML needs:
 * what was expected and what was found. Pure.
 */
final class JacksonMessages {
  private JacksonMessages() {}

  private static final Pattern FROM_VALUE =
      Pattern.compile(
          "Cannot deserialize value of type `([^`]+)` from (String|Number|Boolean|Array|Object|"
              + "Integer|Floating-point)( value)?(?: \"([^\"]*)\")?.*",
          Pattern.DOTALL);
  private static final Pattern CONSTRUCT =
      Pattern.compile("Cannot construct instance of `([^`]+)`");
  private static final Pattern FROM = Pattern.compile("from (\\w+) value(?: \\(([^)]*)\\))?");
  private static final Pattern ENUM =
      Pattern.compile(
          ".*from String \"([^\"]*)\": not one of the values accepted for Enum class: \\[([^\\]]*)\\].*",
          Pattern.DOTALL);
  private static final Pattern NPE = Pattern.compile(".*NullPointerException.*", Pattern.DOTALL);

  static String humanize(String msg) {
    if (msg == null) {
      return "invalid value";
    }
    if (NPE.matcher(msg).matches()) {
      return "an empty value (null) is not allowed here";
    }
    Matcher m = ENUM.matcher(msg);
    if (m.matches()) {
      return "expected one of "
          + m.group(2).replace(" ", "").replace(",", ", ")
          + ", got \""
          + shortened(m.group(1))
          + "\"";
    }
    m = FROM_VALUE.matcher(msg);
    if (m.matches()) {
      String got = m.group(4) != null ? "\"" + shortened(m.group(4)) + "\"" : found(m.group(2));
      return "expected " + kind(m.group(1)) + ", got " + got;
    }
    m = CONSTRUCT.matcher(msg);
    if (m.lookingAt()) {
      Matcher from = FROM.matcher(msg);
      String got =
          !from.find()
              ? "something else"
              : from.group(2) != null ? shortened(from.group(2)) : found(from.group(1));
      return "expected " + kind(m.group(1)) + ", got " + got;
    }
    // Anything else: no Java type names in what people read.
    return msg.replaceAll("`[a-z]+(\\.[a-zA-Z0-9_$]+)+(<[^`]*>)?`", "a value")
        .replaceAll("\\(token `JsonToken\\.[A-Z_]+`\\)", "")
        .strip();
  }

  private static String found(String jsonKind) {
    return switch (jsonKind) {
      case "String" -> "a string";
      case "Number", "Integer", "Floating-point" -> "a number";
      case "Boolean" -> "true or false";
      case "Array" -> "a list";
      default -> "a map";
    };
  }

  private static String kind(String javaType) {
    String t = javaType;
    if (t.contains("List") || t.endsWith("[]") || t.contains("Set")) {
      return "a list";
    }
    if (t.contains("Map")) {
      return "a map of keys to values";
    }
    if (t.endsWith("String")) {
      return "a string";
    }
    if (t.endsWith("Integer")
        || t.endsWith("Long")
        || t.equals("int")
        || t.equals("long")
        || t.endsWith("Double")) {
      return "a number";
    }
    if (t.endsWith("Boolean") || t.equals("boolean")) {
      return "true or false";
    }
    if (t.endsWith("Interval")) {
      return "a duration such as 10s";
    }
    return "a map of fields";
  }

  /** A value quoted back in a message: its first 80 characters (it may be a whole file). */
  private static String shortened(String value) {
    if (value.length() <= 80) {
      return value;
    }
    char q = value.charAt(0);
    return Texts.abbreviate(value, 80) + (q == '\'' || q == '"' ? String.valueOf(q) : "");
  }
}
