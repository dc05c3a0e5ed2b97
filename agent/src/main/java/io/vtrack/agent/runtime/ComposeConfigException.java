package io.vtrack.agent.runtime;

/**
 * The compose CLI rejected a release's compose files (a syntax error, an unknown key, a missing
 * file): the deployment cannot be acted on until they change, and nothing running is touched.
 */
public final class ComposeConfigException extends Exception {
  public ComposeConfigException(String message) {
    super(message);
  }
}
