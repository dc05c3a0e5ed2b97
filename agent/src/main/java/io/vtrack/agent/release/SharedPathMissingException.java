package io.vtrack.agent.release;

/** A shared file exists neither in {@code shared/} nor in the release to seed it from. */
public final class SharedPathMissingException extends Exception {
  public SharedPathMissingException(String message) {
    super(message);
  }
}
