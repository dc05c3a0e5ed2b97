package io.vtrack.agent.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

/** A percentage such as {@code 10%}, held as a fraction (0.10). */
public record Percent(double fraction) {
  @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
  public static Percent parse(Object value) {
    if (!(value instanceof String text)) {
      throw new IllegalArgumentException("invalid percentage '" + value + "' (expected e.g. 10%)");
    }
    return new Percent(Quantities.parsePercent(text));
  }

  @JsonValue
  public String text() {
    return Quantities.formatPercent(fraction);
  }
}
