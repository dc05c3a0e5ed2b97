package io.vtrack.agent.check;

import com.fasterxml.jackson.annotation.JsonInclude;

/** One check's outcome: what was seen, how long it took and a message a person can act on. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record CheckResult(
    String name,
    String kind,
    CheckStatus status,
    String value,
    String message,
    long durationMs,
    String lastRun) {
  public boolean passing() {
    return status == CheckStatus.Passing;
  }
}
