package io.vtrack.agent.check;

/** The result of a check, ranked so that a round is the worst of its checks. */
public enum CheckStatus {
  Passing(0),
  Unknown(1),
  Failing(2);

  private final int rank;

  CheckStatus(int rank) {
    this.rank = rank;
  }

  public static CheckStatus worst(CheckStatus a, CheckStatus b) {
    return a.rank >= b.rank ? a : b;
  }
}
