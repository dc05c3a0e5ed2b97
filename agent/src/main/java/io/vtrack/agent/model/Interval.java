package io.vtrack.agent.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.time.Duration;

/** A duration written as {@code 500ms}, {@code 10s}, {@code 5m} or {@code 1h}. */
public record Interval(Duration duration) {
  @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
  public static Interval parse(Object value) {
    if (!(value instanceof String text)) {
      throw new IllegalArgumentException(
          "invalid duration '" + value + "' (expected e.g. 500ms, 10s, 5m, 1h)");
    }
    return new Interval(Quantities.parseDuration(text));
  }

  public static Interval ofMillis(long millis) {
    return new Interval(Duration.ofMillis(millis));
  }

  public static Interval of(Duration d) {
    return new Interval(d);
  }

  public long millis() {
    return duration.toMillis();
  }

  @JsonValue
  public String text() {
    return Quantities.formatDuration(duration);
  }
}
