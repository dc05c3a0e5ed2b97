package io.vtrack.agent.reconcile;

import io.vtrack.agent.check.CheckResult;
import io.vtrack.agent.model.Phase;
import io.vtrack.agent.model.Reason;
import io.vtrack.agent.model.RolloutResult;
import io.vtrack.agent.model.Stage;
import io.vtrack.agent.reconcile.DeploymentStatus.Condition;
import io.vtrack.agent.reconcile.DeploymentStatus.LastRollout;
import io.vtrack.agent.store.RolloutRecord;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;

/** Computes the status object from desired and observed state. Pure. */
public final class StatusBuilder {
  private StatusBuilder() {}

  /** Everything the status is made of. */
  public record Inputs(
      Desired desired,
      Long observedGeneration,
      RolloutRecord active,
      RolloutRecord lastRollout,
      String currentCommit,
      String lastHealthyCommit,
      List<String> verifiedCommits,
      List<String> quarantinedCommits,
      String quarantineReason,
      List<CheckResult> checks,
      List<String> deadServices,
      boolean degraded,
      Reason hold,
      List<String> warnings,
      ReconcileError.Transient error,
      List<io.vtrack.agent.store.Instance> instances,
      DeploymentStatus.ProxyStatus proxy,
      DeploymentStatus previous,
      Instant now) {}

  /**
   * What the revision resolves to now. While its source cannot be read, what the same revision
   * resolved to last (or before any problem, when the document is invalid, say); an unknown
   * revision, or a new one whose source cannot be read, resolves to nothing known (absent).
   */
  private static String desiredCommit(Desired d, DeploymentStatus previous) {
    if (d.desiredCommit() != null) {
      return d.desiredCommit();
    }
    if (previous == null) {
      return null;
    }
    Desired.Problem p = d.resolutionProblem();
    return p == null
            || (p.reason() == Reason.SourceUnavailable
                && java.util.Objects.equals(previous.desiredRevision(), d.revision()))
        ? previous.desiredCommit()
        : null;
  }

  public static DeploymentStatus build(Inputs in) {
    Desired d = in.desired();
    String desiredCommit = desiredCommit(d, in.previous());
    String current = in.currentCommit();
    boolean verified = current != null && in.verifiedCommits().contains(current);
    boolean healthyNow = verified && in.deadServices().isEmpty() && !in.degraded();
    boolean desiredQuarantined =
        desiredCommit != null && in.quarantinedCommits().contains(desiredCommit);
    boolean lastFailed =
        in.lastRollout() != null && in.lastRollout().result() == RolloutResult.Failed;

    Phase phase;
    String message;
    if (d.suspended()) {
      phase = Phase.Suspended;
      message =
          in.active() == null
              ? "suspended (spec.suspend or vtrack suspend): observing only, nothing is changed"
              : "suspended (spec.suspend or vtrack suspend): "
                  + heldRollout(in.active(), true)
                  + "; nothing more is changed";
    } else if (d.blocker() != null) {
      phase = Phase.Stalled;
      message = d.blocker().message();
    } else if (in.active() != null) {
      Stage stage = in.active().stage();
      phase = stage.phase() == null ? Phase.Deploying : stage.phase();
      message =
          "rollout "
              + in.active().id()
              + " to "
              + short7(in.active().toCommit())
              + ": "
              + stage
              + (in.active().stopBy() == null
                  ? ""
                  : ", rolled back by " + in.active().stopBy() + ": it stops and goes back");
    } else if (in.hold() == Reason.AwaitingPromotion) {
      phase = Phase.Pending;
      message = "waiting until " + short7(desiredCommit) + " is verified in the promotion source";
    } else if (desiredQuarantined
        && current != null
        && current.equals(in.lastHealthyCommit())
        && healthyNow) {
      phase = Phase.RolledBack;
      message =
          "commit "
              + short7(desiredCommit)
              + " is quarantined"
              + (in.quarantineReason() == null ? "" : " (" + in.quarantineReason() + ")")
              + "; "
              + short7(current)
              + " runs healthy";
    } else if (healthyNow && (desiredCommit == null || current.equals(desiredCommit))) {
      phase = Phase.Healthy;
      message = short7(current) + " is verified and its checks pass";
    } else if (healthyNow && !desiredQuarantined) {
      phase = Phase.Pending;
      message = "rollout to " + short7(desiredCommit) + " is queued";
    } else if (verified && !lastFailed) {
      phase = Phase.Degraded;
      message =
          in.deadServices().isEmpty()
              ? "checks of " + short7(current) + " are failing; self-heal in progress"
              : "services not running: "
                  + String.join(", ", in.deadServices())
                  + "; self-heal in progress";
    } else {
      phase = Phase.Failed;
      message =
          current == null && desiredQuarantined && !lastFailed
              ? quarantinedAndStopped(in, desiredCommit)
              : failedMessage(in, current);
    }

    List<Condition> conds = new ArrayList<>();
    Reason readyReason;
    String readyMessage = message;
    boolean acting = phase != Phase.Stalled && phase != Phase.Suspended;
    if (in.error() != null && acting) {
      // The agent's own failure: retried, what runs untouched, and said here, not only in a log.
      readyReason = in.error().reason();
      String retrying = retrying(in.error());
      readyMessage = in.error().message() + " (" + retrying + "; what runs is untouched)";
      message = message + "; retrying after: " + in.error().message() + " (" + retrying + ")";
    } else if (d.resolutionProblem() != null && acting) {
      readyReason = d.resolutionProblem().reason();
      readyMessage = d.resolutionProblem().message();
      // Said where a reader of the phase alone looks too, not only in the Ready condition.
      message = message + "; " + readyMessage + " (what runs is left as it is)";
    } else {
      readyReason =
          switch (phase) {
            case Healthy -> Reason.Verified;
            case Suspended -> Reason.Suspended;
            case Stalled -> d.blocker().reason();
            case Pending ->
                in.hold() == Reason.AwaitingPromotion ? Reason.AwaitingPromotion : Reason.Queued;
            case RolledBack -> Reason.RolledBack;
            case Degraded -> Reason.Degraded;
            case Failed -> Reason.Failed;
            default -> Reason.Progressing;
          };
    }
    boolean ready = phase == Phase.Healthy && d.resolutionProblem() == null && in.error() == null;
    conds.add(cond(in, "Ready", ready, readyReason, readyMessage));
    conds.add(
        in.active() != null
            ? cond(in, "Reconciling", true, Reason.Progressing, message)
            : cond(in, "Reconciling", false, Reason.Idle, null));
    conds.add(
        d.blocker() != null
            ? cond(in, "Stalled", true, d.blocker().reason(), d.blocker().message())
            : cond(in, "Stalled", false, Reason.Idle, null));
    if (current == null) {
      conds.add(cond(in, "Healthy", null, Reason.NotRunning, "nothing runs"));
    } else if (!in.deadServices().isEmpty()) {
      conds.add(
          cond(
              in,
              "Healthy",
              false,
              Reason.NotRunning,
              "not running: " + String.join(", ", in.deadServices())));
    } else if (in.degraded() || anyFailing(in.checks())) {
      conds.add(cond(in, "Healthy", false, Reason.ChecksFailing, failing(in.checks())));
    } else {
      conds.add(cond(in, "Healthy", true, Reason.ChecksPassing, null));
    }

    return new DeploymentStatus(
        in.observedGeneration(),
        phase,
        message,
        d.revision(),
        desiredCommit,
        current,
        in.lastHealthyCommit(),
        in.verifiedCommits(),
        in.quarantinedCommits(),
        conds,
        in.checks(),
        lastRollout(in.active() != null ? in.active() : in.lastRollout()),
        in.warnings(),
        in.instances() == null
            ? List.of()
            : in.instances().stream()
                .map(
                    i ->
                        new DeploymentStatus.InstanceStatus(
                            i.colour(),
                            i.commit(),
                            i.role().name(),
                            i.ports(),
                            i.startedAt(),
                            i.warmUntil()))
                .toList(),
        in.proxy());
  }

  /**
   * Nothing runs though no rollout failed to leave it so (the deployment was stopped, e.g. its
   * document removed and added again), and the revision names a quarantined commit: what the agent
   * will not do by itself, and the commands that would.
   */
  private static String quarantinedAndStopped(Inputs in, String desiredCommit) {
    String name = in.desired().name();
    String verified =
        in.verifiedCommits().stream()
            .filter(c -> !c.equals(desiredCommit))
            .findFirst()
            .orElse(null);
    return "nothing runs, and commit "
        + short7(desiredCommit)
        + " is quarantined"
        + (in.quarantineReason() == null ? "" : " (" + in.quarantineReason() + ")")
        + ": "
        + (verified == null
            ? ""
            : "vtrack rollback "
                + name
                + " --to "
                + short7(verified)
                + " starts the last verified commit; ")
        + "a new revision or vtrack reconcile "
        + name
        + " tries "
        + short7(desiredCommit)
        + " again";
  }

  private static String failedMessage(Inputs in, String current) {
    RolloutRecord r = in.lastRollout();
    String why =
        r == null
            ? ""
            : ": rollout "
                + r.id()
                + " "
                + r.result()
                + " ("
                + r.reason()
                + ")"
                + (r.message() == null ? "" : " " + r.message());
    if (current == null) {
      return "nothing healthy runs" + why;
    }
    return short7(current) + " is not healthy" + why;
  }

  private static boolean anyFailing(List<CheckResult> checks) {
    return checks.stream().anyMatch(c -> c.failing());
  }

  private static String failing(List<CheckResult> checks) {
    StringBuilder sb = new StringBuilder();
    for (CheckResult c : checks) {
      if (c.failing()) {
        sb.append(sb.length() == 0 ? "" : "; ").append(c.name()).append(": ").append(c.message());
      }
    }
    return sb.toString();
  }

  private static Condition cond(
      Inputs in, String type, Boolean status, Reason reason, String message) {
    String s = status == null ? "Unknown" : status ? "True" : "False";
    String since = in.now().toString();
    if (in.previous() != null) {
      Condition prev = in.previous().condition(type);
      if (prev != null && prev.status().equals(s) && prev.lastTransitionTime() != null) {
        since = prev.lastTransitionTime();
      }
    }
    return new Condition(type, s, reason.name(), message, since);
  }

  static LastRollout lastRollout(RolloutRecord r) {
    if (r == null) {
      return null;
    }
    Long duration = null;
    if (r.finishedAt() != null) {
      duration =
          Duration.between(Instant.parse(r.startedAt()), Instant.parse(r.finishedAt())).toMillis();
    }
    return new LastRollout(
        r.id(),
        r.kind().text(),
        r.fromCommit(),
        r.toCommit(),
        r.stage().name(),
        r.result() == null ? null : r.result().name(),
        r.reason() == null ? null : r.reason().name(),
        r.message(),
        r.startedAt(),
        r.finishedAt(),
        duration);
  }

  /**
   * What becomes of an active rollout when its deployment is suspended (or resumed): a stage that
   * has begun runs to its end, the next waits.
   */
  static String heldRollout(RolloutRecord active, boolean suspended) {
    String rollout =
        "rollout " + active.id() + " to " + short7(active.toCommit()) + " (stage " + active.stage();
    if (active.stopBy() != null) {
      return rollout
          + ") was rolled back by "
          + active.stopBy()
          + (suspended ? ": it stops once resumed" : ": it stops and goes back");
    }
    return rollout + (suspended ? ") goes no further than the stage it is in" : ") goes on");
  }

  static String short7(String commit) {
    return io.vtrack.agent.model.Commits.short7(commit);
  }

  /** When a failure of the agent's world is tried again: its attempt and the next one's time. */
  static String retrying(ReconcileError.Transient e) {
    if (e.attempt() == 0 || e.retryAt() == null) {
      return "retrying with backoff";
    }
    return "attempt "
        + e.attempt()
        + " failed; the next at "
        + e.retryAt().truncatedTo(ChronoUnit.SECONDS)
        + ", or now on `vtrack reconcile`";
  }
}
