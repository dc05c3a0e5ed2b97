package io.vtrack.agent.store;

import java.util.Map;

/**
 * Blue-green: one commit of a deployment started once, in a colour, with a loopback port per
 * service (DESIGN.md §2). The live instance serves the public addresses through the switch proxy; a
 * candidate is being verified beside it; a warm one served until the last switch and keeps running
 * until {@code warmUntil}, so that a rollback is a switch back. A preview runs the new revision on
 * a copy of the data (colour {@code preview}) before any of that.
 */
public record Instance(
    String deployment,
    String colour,
    String commit,
    Role role,
    Map<String, Integer> ports,
    String specJson,
    Long rolloutId,
    String startedAt,
    String warmUntil) {

  /** What an instance is to its deployment. */
  public enum Role {
    Candidate,
    Live,
    Warm,
    /** {@code preview: snapshot}: the new revision on a copy of the data, never served. */
    Preview
  }

  public Instance {
    ports = ports == null ? Map.of() : Map.copyOf(ports);
  }

  /** The key its processes are kept under in the runtime and the store. */
  public String runtimeKey() {
    return runtimeKey(deployment, colour);
  }

  public static String runtimeKey(String deployment, String colour) {
    return colour == null ? deployment : deployment + "@" + colour;
  }

  /** The deployment a runtime key belongs to. */
  public static String deploymentOf(String runtimeKey) {
    int at = runtimeKey.indexOf('@');
    return at < 0 ? runtimeKey : runtimeKey.substring(0, at);
  }

  public Instance withRole(Role r, String until) {
    return new Instance(
        deployment, colour, commit, r, ports, specJson, rolloutId, startedAt, until);
  }

  /** The other colour. */
  public static String other(String colour) {
    return "blue".equals(colour) ? "green" : "blue";
  }
}
