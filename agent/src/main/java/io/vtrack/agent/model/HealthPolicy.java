package io.vtrack.agent.model;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Size;
import java.util.List;

@JsonInclude(JsonInclude.Include.NON_NULL)
public record HealthPolicy(
    @Pattern(SchemaPatterns.DURATION) Interval startupTimeout,
    @Pattern(SchemaPatterns.DURATION) Interval interval,
    @Pattern(SchemaPatterns.DURATION) Interval window,
    Integer failureThreshold,
    Integer startupFailureThreshold,
    @Size(max = HealthRules.MAX_CHECKS) List<CheckSpec> checks) {
  public HealthPolicy {
    startupTimeout = startupTimeout == null ? Interval.parse("60s") : startupTimeout;
    interval = interval == null ? Interval.parse("2s") : interval;
    window = window == null ? Interval.parse("30s") : window;
    failureThreshold = failureThreshold == null ? 3 : failureThreshold;
    startupFailureThreshold = startupFailureThreshold == null ? 2 : startupFailureThreshold;
    checks = checks == null ? List.of() : List.copyOf(checks);
  }
}
