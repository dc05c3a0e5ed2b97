package io.vtrack.agent.check;

import io.vertx.core.Future;
import io.vtrack.agent.model.CheckSpec;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.Optional;

/**
 * One kind of health check. Implementations never block the event loop: I/O is asynchronous or goes
 * through {@code executeBlocking}. A check is built once per revision (substitutions applied) and
 * run every round.
 */
public interface HealthCheck {
  /**
   * Whether checks of this kind count as wrong only from the round after every other check passed
   * once in a rollout (DESIGN.md §2: a revision that is still warming up is slow and large).
   */
  static boolean warming(String kind) {
    return "latency".equals(kind) || "memory".equals(kind);
  }

  CheckSpec spec();

  /** The kind its results carry: the spec's, for checks a document declares. */
  default String kind() {
    return spec().kind();
  }

  /** Runs one round of this check; the future fails only on bugs, never on a failing check. */
  Future<CheckResult> run();

  /**
   * The longest one run of this check may take when it keeps to its own timeouts: its {@code
   * timeout}, for a check that asks once. A round waits this long (and a second more) before it
   * takes the check for timed out.
   */
  default long boundMillis() {
    return spec().effectiveTimeout().millis();
  }

  /**
   * Runs one round of a verification where this check's limits cannot count as wrong yet (DESIGN.md
   * §2: a warming revision is slow and large; latency and memory count only from the round after
   * every other check passed once). Such a check may stop at the first sign it will not pass: its
   * failure can only mean "not ready" in this round.
   */
  default Future<CheckResult> runWarmingUp() {
    return run();
  }

  /**
   * Whether this check's last result was a failure that cannot clear before verification ends (a
   * log count since the release started is already over {@code max}): startup need not wait for
   * {@code startupTimeout} to fail the rollout.
   */
  default boolean failedForGood() {
    return false;
  }

  /**
   * Whether every write of what this check reads may make it fail for good (a log check during
   * verification, counting since the release started): verification runs it again as soon as that
   * is written (see {@link #watchWrites}) instead of at the next round.
   */
  default boolean grows() {
    return false;
  }

  /**
   * Tells {@code written} of each write of what a check that {@link #grows} reads (a file through
   * {@code files}, a container's output through the engine's log stream) until closed. Blocks:
   * file-system or engine calls.
   */
  default AutoCloseable watchWrites(FileGrowth files, Runnable written) throws IOException {
    return () -> {};
  }

  /**
   * The TCP address this check asks (an http check's host and port), if any: a revision cannot
   * answer it before something listens there.
   */
  default Optional<InetSocketAddress> asks() {
    return Optional.empty();
  }

  /** The host and port of an http(s) URL, if it has them. */
  static Optional<InetSocketAddress> addressOf(String url) {
    try {
      URI u = URI.create(url);
      if (u.getHost() == null || u.getScheme() == null) {
        return Optional.empty();
      }
      int port =
          u.getPort() >= 0 ? u.getPort() : "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
      return Optional.of(InetSocketAddress.createUnresolved(u.getHost(), port));
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
  }
}
