package io.vtrack.agent.runtime;

import java.io.IOException;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * A command that fetches (a {@code prepare} step or an image build's {@code RUN}: {@code npm ci},
 * {@code pip install}, {@code curl}) failed because the network did not answer: a name that did not
 * resolve, a connection refused or timed out, in the words the usual tools print. The host's
 * network or a package registry is away, not the commit: retried like a repository that does not
 * answer ({@code SourceUnavailable}), nothing is quarantined and what runs is untouched. What a
 * registry answers (a 404, a version that does not exist) carries none of these words and stays the
 * commit's failure.
 */
public final class NetworkUnavailableException extends IOException {
  /**
   * Node's system error codes (npm, yarn, pnpm print them as is), then what glibc, curl, git,
   * Python (pip, urllib), apt and Go say when a connection could not be made.
   */
  private static final Pattern UNREACHABLE =
      Pattern.compile(
          "\\b(?:ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ESOCKETTIMEDOUT|ENETUNREACH"
              + "|EHOSTUNREACH)\\b"
              + "|(?i:temporary failure (?:in name resolution|resolving)|could not resolve host"
              + "|name or service not known|failed to establish a new connection"
              + "|network is unreachable|no route to host|couldn't connect to server"
              + "|\\[Errno 111] Connection refused|\\[Errno 110] Connection timed out"
              + "|\\bdial tcp(?: \\S+)?: (?:lookup \\S+(?: on \\S+)?: no such host"
              + "|connect: connection refused|i/o timeout))");

  /** At most this much of the line that says it is kept in the message. */
  private static final int LINE_MAX = 300;

  public NetworkUnavailableException(String message) {
    super(message);
  }

  /**
   * This exception, "{@code what}: the line that says so", when {@code output} says that the
   * network did not answer.
   */
  public static Optional<NetworkUnavailableException> in(String output, String what) {
    return reported(output).map(line -> new NetworkUnavailableException(what + ": " + line));
  }

  /**
   * The line of a command's output that says the network did not answer (the longest such line: npm
   * prints the code alone, then the request that failed), if any.
   */
  public static Optional<String> reported(String output) {
    if (output == null) {
      return Optional.empty();
    }
    return output
        .lines()
        .filter(l -> UNREACHABLE.matcher(l).find())
        .map(String::strip)
        .max((a, b) -> Integer.compare(a.length(), b.length()))
        .map(l -> l.length() > LINE_MAX ? l.substring(0, LINE_MAX) + "…" : l);
  }
}
