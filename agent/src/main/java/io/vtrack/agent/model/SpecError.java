package io.vtrack.agent.model;

/** A rejection of a document: the field it concerns, the line in its file when known, and why. */
public record SpecError(String field, Integer line, String message) {
  /** The longest message kept: a value quoted back (a whole file as one string) is cut short. */
  static final int MAX_MESSAGE = 500;

  public SpecError {
    if (message != null && message.length() > MAX_MESSAGE) {
      message =
          message.substring(0, MAX_MESSAGE) + "… (" + message.length() + " characters, cut short)";
    }
  }

  @Override
  public String toString() {
    return (field == null || field.isEmpty() ? "document" : field)
        + (line == null ? "" : " (line " + line + ")")
        + ": "
        + message;
  }
}
