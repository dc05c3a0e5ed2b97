package io.vtrack.agent.source;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * Where a document came from: the source (git, file, kubernetes), the file and line, and for git
 * the commit of the desired-state repository with its author and subject.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record SourceRef(
    String kind,
    String sourceId,
    String repoURL,
    String file,
    Integer line,
    String commit,
    String author,
    String subject) {
  /** "docs/vtrack.yaml:12", or the file alone when the document has no line (it is not YAML). */
  public String where() {
    return line == null ? file : file + ":" + line;
  }
}
