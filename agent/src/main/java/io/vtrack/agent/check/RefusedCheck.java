package io.vtrack.agent.check;

import io.vertx.core.Future;
import io.vtrack.agent.model.CheckSpec;
import java.time.Instant;

/**
 * A check the agent refuses to run as written (its file leads out of the release through a link):
 * it fails every round with the reason, so the rollout fails on it instead of reading elsewhere.
 */
final class RefusedCheck implements HealthCheck {
  private final CheckSpec spec;
  private final String why;

  RefusedCheck(CheckSpec spec, String why) {
    this.spec = spec;
    this.why = why;
  }

  @Override
  public CheckSpec spec() {
    return spec;
  }

  @Override
  public Future<CheckResult> run() {
    return Future.succeededFuture(
        new CheckResult(
            spec.name(), spec.kind(), CheckStatus.Failing, null, why, 0, Instant.now().toString()));
  }
}
