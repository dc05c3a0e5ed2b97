package io.vtrack.agent.release;

import java.io.IOException;

/**
 * {@code spec.source.path} names no folder in the commit to deploy: the document points at nothing,
 * so nothing is exported and the commit is not blamed for it.
 */
public final class SourcePathNotFoundException extends IOException {
  public SourcePathNotFoundException(String message) {
    super(message);
  }
}
