package io.vtrack.agent.model;

/** How commits are shown to people: the first seven characters of the SHA, everywhere. */
public final class Commits {
  private Commits() {}

  /** {@code 3f1c2ab}; {@code (none)} when there is no commit. */
  public static String short7(String commit) {
    return commit == null ? "(none)" : commit.substring(0, Math.min(7, commit.length()));
  }
}
