package io.vtrack.agent.reconcile;

import io.vtrack.agent.check.CheckResult;
import io.vtrack.agent.check.Failure;
import io.vtrack.agent.check.HealthCheck;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The rules of DESIGN.md §2 that classify a round's failures across checks. Pure. Each check says
 * on its own whether it was not ready or answered wrong; on top of that:
 *
 * <ul>
 *   <li>a warming revision is slow and large: {@code latency} and {@code memory} over their limits
 *       count as wrong only from the round after every other check has passed once;
 *   <li>a {@code command} check's non-zero exit counts as wrong only in a round where every {@code
 *       http} check answered (or the policy has none): a smoke test of an app that is not up yet is
 *       not a wrong answer.
 * </ul>
 *
 * @param results the round's results, reclassified
 * @param wrong whether any of them is a wrong answer
 */
public record RoundJudgement(List<CheckResult> results, boolean wrong) {
  /**
   * Whether latency and memory limits count in the next round: every other check passed once.
   *
   * @param passedBefore names of the checks that passed in an earlier round of this verification
   */
  public static boolean limitsCount(List<HealthCheck> checks, Set<String> passedBefore) {
    return checks.stream()
        .filter(c -> !HealthCheck.warming(c.kind()))
        .allMatch(c -> passedBefore.contains(c.spec().name()));
  }

  /**
   * @param passedBefore names of the checks that passed in an earlier round of this verification
   */
  public static RoundJudgement of(List<CheckResult> round, Set<String> passedBefore) {
    boolean othersPassed =
        round.stream()
            .filter(r -> !HealthCheck.warming(r.kind()))
            .allMatch(r -> passedBefore.contains(r.name()));
    boolean httpAnswered =
        round.stream().filter(r -> "http".equals(r.kind())).noneMatch(CheckResult::notReady);
    List<CheckResult> out = new ArrayList<>();
    boolean wrong = false;
    for (CheckResult r : round) {
      CheckResult c = r;
      if (!r.passing() && r.failure() == Failure.Wrong) {
        if (HealthCheck.warming(r.kind()) && !othersPassed) {
          c = r.as(Failure.NotReady);
        } else if ("command".equals(r.kind()) && !httpAnswered) {
          c = r.as(Failure.NotReady);
        }
      }
      wrong |= !c.passing() && c.failure() == Failure.Wrong;
      out.add(c);
    }
    return new RoundJudgement(List.copyOf(out), wrong);
  }

  /** The checks that answered wrong, for messages: "cameras: missing JSON keys [count]". */
  public String wrongAnswers() {
    StringBuilder sb = new StringBuilder();
    for (CheckResult r : results) {
      if (!r.passing() && r.failure() == Failure.Wrong) {
        if (sb.length() > 0) {
          sb.append("; ");
        }
        sb.append(r.name()).append(": ").append(r.message());
      }
    }
    return sb.toString();
  }
}
