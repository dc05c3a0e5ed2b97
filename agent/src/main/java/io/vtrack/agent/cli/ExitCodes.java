package io.vtrack.agent.cli;

/** Exit codes of DESIGN.md §4. */
public final class ExitCodes {
  public static final int OK = 0;
  public static final int FAILED = 1;
  public static final int USAGE = 2;
  public static final int UNREACHABLE = 3;
  public static final int NOT_FOUND = 4;

  private ExitCodes() {}
}
