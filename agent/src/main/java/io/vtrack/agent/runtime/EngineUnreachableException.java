package io.vtrack.agent.runtime;

import java.net.SocketException;

/**
 * The Docker Engine did not answer a request (stopped, restarting, its socket gone): the host's
 * trouble, never the app's, said as such instead of as the transport's bare exception.
 */
public final class EngineUnreachableException extends RuntimeException {
  EngineUnreachableException(Throwable cause) {
    super(
        "the Docker Engine does not answer (" + io.vtrack.agent.IoErrors.rootMessage(cause) + ")",
        cause);
  }

  /** {@code e} as this exception when the engine's socket refused or dropped it, else as it is. */
  static RuntimeException of(RuntimeException e) {
    for (Throwable c = e; c != null; c = c.getCause() == c ? null : c.getCause()) {
      if (c instanceof SocketException || c instanceof java.io.FileNotFoundException) {
        return new EngineUnreachableException(e);
      }
    }
    return e;
  }
}
