package io.vtrack.agent;

/** Event-bus addresses, in one place. */
public final class Addresses {
  /**
   * Transitions, rollout steps and check rounds as JSON strings with a {@code type} ("status",
   * "step", "round", "rollout") and a {@code deployment}; the API streams them as server-sent
   * events.
   */
  public static final String EVENTS = "vtrack.events";

  private Addresses() {}
}
