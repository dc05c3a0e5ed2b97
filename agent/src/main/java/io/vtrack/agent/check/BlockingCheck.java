package io.vtrack.agent.check;

import io.vertx.core.Future;
import io.vertx.core.WorkerExecutor;
import io.vtrack.agent.model.CheckSpec;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Base for checks whose work blocks (JDBC, files, child processes): it runs on the agent's bounded
 * check pool, never on the workers that serve the API and reconciles. One run at a time: when a run
 * overstays its timeout, later rounds report it instead of queueing behind it, so a stuck check can
 * never take the pool.
 */
abstract class BlockingCheck implements HealthCheck {
  protected final CheckSpec spec;
  private final WorkerExecutor pool;
  private final AtomicBoolean running = new AtomicBoolean();

  BlockingCheck(CheckSpec spec, WorkerExecutor pool) {
    this.spec = spec;
    this.pool = pool;
  }

  @Override
  public CheckSpec spec() {
    return spec;
  }

  @Override
  public Future<CheckResult> run() {
    long start = System.nanoTime();
    if (!running.compareAndSet(false, true)) {
      return Future.succeededFuture(
          result(
                  CheckStatus.Failing,
                  null,
                  "the previous run of this check has not finished (over its timeout "
                      + spec.effectiveTimeout().text()
                      + ")",
                  start)
              .as(Failure.NotReady));
    }
    // Not ordered: checks of one round run concurrently with each other.
    return pool.executeBlocking(
        () -> {
          try {
            return check(start);
          } catch (Exception e) {
            return result(
                    CheckStatus.Failing,
                    null,
                    e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage(),
                    start)
                .as(Failure.NotReady);
          } finally {
            running.set(false);
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
