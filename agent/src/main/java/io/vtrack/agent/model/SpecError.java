package io.vtrack.agent.model;

/** A rejection of a document: the field it concerns, the line in its file when known, and why. */
public record SpecError(String field, Integer line, String message) {
  @Override
  public String toString() {
    return (field == null || field.isEmpty() ? "document" : field)
        + (line == null ? "" : " (line " + line + ")")
        + ": "
        + message;
  }
}
