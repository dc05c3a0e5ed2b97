package io.vtrack.agent.release;

/** A repository could not be cloned or fetched; what runs stays untouched. */
public final class SourceUnavailableException extends Exception {
  public SourceUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }
}
