package io.vtrack.agent.check;

import io.vertx.core.Future;
import io.vtrack.agent.model.CheckSpec;

/**
 * One kind of health check. Implementations never block the event loop: I/O is asynchronous or goes
 * through {@code executeBlocking}. A check is built once per revision (substitutions applied) and
 * run every round.
 */
public interface HealthCheck {
  CheckSpec spec();

  /** Runs one round of this check; the future fails only on bugs, never on a failing check. */
  Future<CheckResult> run();

  /**
   * Whether this check's last result was a failure that cannot clear before verification ends (a
   * log count since the switch is already over {@code max}): startup need not wait for {@code
   * startupTimeout} to fail the rollout.
   */
  default boolean failedForGood() {
    return false;
  }
}
