package io.vtrack.agent.check;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * One check's outcome: what was seen, how long it took and a message a person can act on. A failing
 * result says whether the target was {@link Failure#NotReady not ready} or answered {@link
 * Failure#Wrong wrong}; a passing one has no failure.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record CheckResult(
    String name,
    String kind,
    CheckStatus status,
    String value,
    String message,
    long durationMs,
    String lastRun,
    Failure failure) {

  /** A result whose failure, if it fails, is a wrong answer. */
  public CheckResult(
      String name,
      String kind,
      CheckStatus status,
      String value,
      String message,
      long durationMs,
      String lastRun) {
    this(
        name,
        kind,
        status,
        value,
        message,
        durationMs,
        lastRun,
        status == CheckStatus.Passing ? null : Failure.Wrong);
  }

  public boolean passing() {
    return status == CheckStatus.Passing;
  }

  /**
   * Failed: neither passing nor {@link CheckStatus#Unknown} (not awaited in a round decided early).
   */
  public boolean failing() {
    return status == CheckStatus.Failing;
  }

  /** The same result, failing for {@code why}. */
  public CheckResult as(Failure why) {
    return passing()
        ? this
        : new CheckResult(name, kind, status, value, message, durationMs, lastRun, why);
  }

  public boolean notReady() {
    return !passing() && failure == Failure.NotReady;
  }
}
