package io.vtrack.agent;

/** Text quoted back to a user (a value, a log line, a command's output), kept readable. */
public final class Texts {
  private Texts() {}

  /**
   * {@code s} when it has at most {@code max} characters, else its first {@code max} (one less
   * rather than half of a surrogate pair) and "…". Null is "".
   */
  public static String abbreviate(String s, int max) {
    if (s == null) {
      return "";
    }
    if (s.length() <= max) {
      return s;
    }
    int end = Character.isHighSurrogate(s.charAt(max - 1)) ? max - 1 : max;
    return s.substring(0, end) + "…";
  }
}
