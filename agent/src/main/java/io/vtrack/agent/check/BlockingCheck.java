package io.vtrack.agent.check;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vtrack.agent.model.CheckSpec;
import java.time.Instant;

/** Base for checks whose work blocks (JDBC, files, child processes): it runs on a worker. */
abstract class BlockingCheck implements HealthCheck {
  protected final CheckSpec spec;
  private final Vertx vertx;

  BlockingCheck(CheckSpec spec, Vertx vertx) {
    this.spec = spec;
    this.vertx = vertx;
  }

  @Override
  public CheckSpec spec() {
    return spec;
  }

  @Override
  public Future<CheckResult> run() {
    long start = System.nanoTime();
    // Not ordered: checks of one round run concurrently with each other.
    return vertx.executeBlocking(
        () -> {
          try {
            return check(start);
          } catch (Exception e) {
            return result(
                CheckStatus.Failing,
                null,
                e.getMessage() == null ? e.toString() : e.getMessage(),
                start);
          }
        },
        false);
  }

  protected abstract CheckResult check(long startNanos) throws Exception;

  protected CheckResult result(CheckStatus status, String value, String message, long startNanos) {
    long ms = (System.nanoTime() - startNanos) / 1_000_000;
    return new CheckResult(
        spec.name(), spec.kind(), status, value, message, ms, Instant.now().toString());
  }
}
