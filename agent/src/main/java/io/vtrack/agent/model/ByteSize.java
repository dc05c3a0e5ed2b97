package io.vtrack.agent.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

/** A size such as {@code 512Mi}; YAML may also give a plain number of bytes. */
public record ByteSize(long bytes) {
  @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
  public static ByteSize parse(Object value) {
    if (value instanceof Number n) {
      return new ByteSize(n.longValue());
    }
    return new ByteSize(Quantities.parseSize(String.valueOf(value)));
  }

  @JsonValue
  public String text() {
    return Quantities.formatSize(bytes);
  }
}
