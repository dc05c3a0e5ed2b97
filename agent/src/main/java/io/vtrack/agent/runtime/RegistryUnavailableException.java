package io.vtrack.agent.runtime;

import java.io.IOException;
import java.util.regex.Pattern;

/**
 * An image registry could not be reached (refused, not resolved, timed out, rate limited, a 5xx):
 * the host's network or the registry is away, not the commit. Retried like a repository that does
 * not answer ({@code SourceUnavailable}); nothing is quarantined and what runs is untouched.
 */
public final class RegistryUnavailableException extends IOException {
  /**
   * How the Docker Engine reports a request to a registry's API that got no usable answer: the
   * request's method and URL, then the transport error ({@code Get "https://host/v2/": dial tcp:
   * lookup host: no such host}). What a registry answers about an image (manifest unknown, pull
   * access denied) is worded without the request, and stays the commit's failure.
   */
  private static final Pattern UNREACHABLE =
      Pattern.compile(
          "(?i)\\b(?:Get|Head)\\s+\"?https?://[^\"\\s]+/v2/[^\"\\s]*\"?:\\s"
              + "|\\btoomanyrequests\\b"
              + "|received unexpected HTTP status: 5\\d\\d");

  public RegistryUnavailableException(String message) {
    super(message);
  }

  /** Whether the output of a pull or a build says that a registry could not be reached. */
  public static boolean reported(String engineOutput) {
    return engineOutput != null && UNREACHABLE.matcher(engineOutput).find();
  }

  /** {@code e} as this exception when its output says a registry could not be reached. */
  static IOException classify(IOException e) {
    return reported(e.getMessage())
        ? new RegistryUnavailableException("image registry unreachable: " + e.getMessage())
        : e;
  }
}
