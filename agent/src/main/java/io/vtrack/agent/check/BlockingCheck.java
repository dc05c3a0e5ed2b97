package io.vtrack.agent.check;

import io.vertx.core.Future;
import io.vertx.core.WorkerExecutor;
import io.vtrack.agent.model.CheckSpec;
import java.time.Instant;

/**
 * Base for checks whose work blocks (JDBC, files, child processes): it runs on the agent's bounded
 * check pool, never on the workers that serve the API and reconciles. One run at a time: a round
 * that finds the previous run still within its timeout takes that run's result (a round that ended
 * early, decided, leaves its slower checks running; the next must not answer for them without their
 * result); a run that overstays its timeout is reported by later rounds instead of queued behind,
 * so a stuck check can never take the pool.
 */
abstract class BlockingCheck implements HealthCheck {
  protected final CheckSpec spec;
  private final WorkerExecutor pool;
  private final Object lock = new Object();
  private Future<CheckResult> inFlight; // guarded by lock
  private long inFlightSince; // guarded by lock

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
    synchronized (lock) {
      if (inFlight != null) {
        if (start - inFlightSince < spec.effectiveTimeout().millis() * 1_000_000) {
          return inFlight;
        }
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
      inFlightSince = start;
      // Not ordered: checks of one round run concurrently with each other.
      inFlight =
          pool.executeBlocking(
              () -> {
                try {
                  return check(start);
                } catch (io.vtrack.agent.runtime.EngineUnreachableException e) {
                  return result(CheckStatus.Failing, null, e.getMessage(), start)
                      .as(Failure.HostUnavailable);
                } catch (Exception e) {
                  return result(
                          CheckStatus.Failing,
                          null,
                          e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage(),
                          start)
                      .as(Failure.NotReady);
                } finally {
                  synchronized (lock) { // after the assignment below: that holds the lock
                    inFlight = null;
                  }
                }
              },
              false);
      return inFlight;
    }
  }

  protected abstract CheckResult check(long startNanos) throws Exception;

  protected CheckResult result(CheckStatus status, String value, String message, long startNanos) {
    long ms = (System.nanoTime() - startNanos) / 1_000_000;
    return new CheckResult(
        spec.name(), spec.kind(), status, value, message, ms, Instant.now().toString());
  }
}
