package io.vtrack.agent.release;

/** A revision names no tag, branch or commit of its repository. */
public final class RevisionNotFoundException extends Exception {
  public RevisionNotFoundException(String message) {
    super(message);
  }
}
