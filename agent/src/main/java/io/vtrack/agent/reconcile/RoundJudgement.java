package io.vtrack.agent.reconcile;

import io.vtrack.agent.check.CheckResult;
import io.vtrack.agent.check.Failure;
import io.vtrack.agent.check.HealthCheck;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
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
 *       not a wrong answer;
 *   <li>a request that was sent and got no response within its timeout is wrong when another check
 *       of the same address got an answer in this round — the app is up and serves, this request
 *       hangs — and not ready otherwise (nothing answers there yet).
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
   * @param addresses the address each check that asks one asks, by check name
   */
  public static RoundJudgement of(
      List<CheckResult> round, Set<String> passedBefore, Map<String, InetSocketAddress> addresses) {
    boolean othersPassed =
        round.stream()
            .filter(r -> !HealthCheck.warming(r.kind()))
            .allMatch(r -> passedBefore.contains(r.name()));
    boolean httpAnswered =
        round.stream()
            .filter(r -> "http".equals(r.kind()))
            .noneMatch(r -> r.notReady() || unanswered(r));
    List<CheckResult> out = new ArrayList<>();
    boolean wrong = false;
    for (CheckResult r : round) {
      CheckResult c = unanswered(r) ? hangingOrNotReady(r, round, addresses) : r;
      if (!c.passing() && c.failure() == Failure.Wrong) {
        if (HealthCheck.warming(c.kind()) && !othersPassed) {
          c = c.as(Failure.NotReady);
        } else if ("command".equals(c.kind()) && !httpAnswered) {
          c = c.as(Failure.NotReady);
        }
      }
      wrong |= !c.passing() && c.failure() == Failure.Wrong;
      out.add(c);
    }
    return new RoundJudgement(List.copyOf(out), wrong);
  }

  private static boolean unanswered(CheckResult r) {
    return !r.passing() && r.failure() == Failure.Unanswered;
  }

  /**
   * An unanswered request, judged by the round: wrong, saying so, when a check of the same address
   * got an answer (passing, or a wrong answer), else not ready.
   */
  private static CheckResult hangingOrNotReady(
      CheckResult r, List<CheckResult> round, Map<String, InetSocketAddress> addresses) {
    InetSocketAddress address = addresses.get(r.name());
    Optional<CheckResult> answered =
        address == null
            ? Optional.empty()
            : round.stream()
                .filter(o -> !o.name().equals(r.name()) && address.equals(addresses.get(o.name())))
                .filter(o -> o.passing() || o.failure() == Failure.Wrong)
                .findFirst();
    if (answered.isEmpty()) {
      return r.as(Failure.NotReady);
    }
    return new CheckResult(
        r.name(),
        r.kind(),
        r.status(),
        r.value(),
        r.message()
            + " (while "
            + address.getHostString()
            + ":"
            + address.getPort()
            + " answered "
            + answered.get().name()
            + ")",
        r.durationMs(),
        r.lastRun(),
        Failure.Wrong);
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
