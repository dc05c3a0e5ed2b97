package io.vtrack.agent.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

/**
 * {@code spec.rollback.restoreData}: {@code true}, {@code false} or {@code Always} (DESIGN.md §2).
 * With recreate, {@code true} and {@code Always} restore the pre-rollout backup on every rollback.
 * With blue-green, {@code true} restores only when a {@code sqlite} check failed (the only proven
 * damage; every other write since the backup came from the live release's users), {@code Always} in
 * every case.
 */
public enum RestoreData {
  Never(false),
  WhenDamaged(true),
  Always("Always");

  private final Object json;

  RestoreData(Object json) {
    this.json = json;
  }

  @JsonValue
  public Object json() {
    return json;
  }

  @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
  public static RestoreData parse(Object value) {
    if (value instanceof Boolean b) {
      return b ? WhenDamaged : Never;
    }
    if ("Always".equals(value)) {
      return Always;
    }
    if ("true".equals(value)) {
      return WhenDamaged;
    }
    if ("false".equals(value)) {
      return Never;
    }
    throw new IllegalArgumentException("must be true, false or Always, got '" + value + "'");
  }

  /** Whether the backup may be restored at all. */
  public boolean enabled() {
    return this != Never;
  }
}
