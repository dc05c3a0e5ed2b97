package io.vtrack.agent.store;

/**
 * Named places where a test may kill the agent as power loss would ({@code -Dvtrack.crashAt=NAME}
 * or {@code VTRACK_CRASH_AT=NAME}): the JVM halts on the spot, no shutdown hook, no flush. Used to
 * prove that every multi-row transition is one transaction and that every stage resumes.
 */
public final class CrashPoints {
  private static final String AT =
      System.getProperty("vtrack.crashAt", System.getenv().getOrDefault("VTRACK_CRASH_AT", ""));

  private CrashPoints() {}

  /** Halts the JVM if {@code name} is the configured crash point. */
  public static void reach(String name) {
    if (!AT.isEmpty() && AT.equals(name)) {
      System.err.println("vtrack: crash point " + name + " reached: halting");
      Runtime.getRuntime().halt(137);
    }
  }
}
