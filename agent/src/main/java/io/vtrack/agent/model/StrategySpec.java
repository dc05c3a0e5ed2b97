package io.vtrack.agent.model;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.generator.annotation.Pattern;

/** {@code spec.strategy}: absent means recreate (stop the old release, start the new one). */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record StrategySpec(BlueGreen blueGreen) {

  /**
   * The new release starts beside the live one on its own ports, is verified there, and a switch
   * proxy moves traffic to it; the old one keeps running for {@code keepWarm}.
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record BlueGreen(
      @Pattern(SchemaPatterns.DURATION) Interval keepWarm,
      @Pattern(SchemaPatterns.DURATION) Interval drainTimeout,
      Preview preview) {
    public BlueGreen {
      keepWarm = keepWarm == null ? Interval.parse("10m") : keepWarm;
      drainTimeout = drainTimeout == null ? Interval.parse("30s") : drainTimeout;
      preview = preview == null ? Preview.live : preview;
    }
  }

  /** Where the revision is proved first: on the live data, or on a copy of it. */
  public enum Preview {
    live,
    snapshot
  }
}
