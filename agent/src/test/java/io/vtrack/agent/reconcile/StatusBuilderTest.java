package io.vtrack.agent.reconcile;

import static org.assertj.core.api.Assertions.assertThat;

import io.vtrack.agent.check.CheckResult;
import io.vtrack.agent.check.CheckStatus;
import io.vtrack.agent.model.Phase;
import io.vtrack.agent.model.Reason;
import io.vtrack.agent.model.RolloutKind;
import io.vtrack.agent.model.RolloutResult;
import io.vtrack.agent.model.Stage;
import io.vtrack.agent.store.RolloutRecord;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The phase rules of DESIGN.md §3, first match wins. */
class StatusBuilderTest {
  static final String A = "a".repeat(40);
  static final String B = "b".repeat(40);
  static final Instant NOW = Instant.parse("2026-11-29T12:00:00Z");

  static Desired desired(String commit) {
    return new Desired("app", null, false, "g1", "v2", commit, null, true, true);
  }

  static StatusBuilder.Inputs in(
      Desired d,
      RolloutRecord active,
      RolloutRecord last,
      String current,
      String healthy,
      List<String> verified,
      List<String> quarantined,
      List<String> dead,
      boolean degraded,
      Reason hold) {
    return new StatusBuilder.Inputs(
        d,
        3L,
        active,
        last,
        current,
        healthy,
        verified,
        quarantined,
        null,
        List.of(
            new CheckResult(
                "backend", "http", CheckStatus.Passing, "200", "ok", 3, NOW.toString())),
        dead,
        degraded,
        hold,
        List.of(),
        null,
        List.of(),
        null,
        null,
        NOW);
  }

  static RolloutRecord finished(String result) {
    return new RolloutRecord(
        1,
        "app",
        RolloutKind.Rollout,
        A,
        B,
        "v2",
        "g1",
        Stage.Done,
        RolloutResult.valueOf(result),
        Reason.StartupTimeout,
        null,
        true,
        false,
        null,
        NOW.toString(),
        NOW.plusSeconds(5).toString(),
        null,
        null);
  }

  @Test
  void healthy() {
    DeploymentStatus s =
        StatusBuilder.build(
            in(desired(A), null, null, A, A, List.of(A), List.of(), List.of(), false, null));
    assertThat(s.phase()).isEqualTo(Phase.Healthy);
    assertThat(s.condition("Ready").status()).isEqualTo("True");
    assertThat(s.condition("Ready").reason()).isEqualTo("Verified");
    assertThat(s.condition("Healthy").reason()).isEqualTo("ChecksPassing");
    assertThat(s.observedGeneration()).isEqualTo(3L);
  }

  @Test
  void suspendedComesFirst() {
    Desired d =
        new Desired(
            "app",
            new Desired.Problem(Reason.InvalidSpec, "x"),
            true,
            "g",
            "v",
            A,
            null,
            true,
            true);
    assertThat(
            StatusBuilder.build(
                    in(d, null, null, A, A, List.of(A), List.of(), List.of(), false, null))
                .phase())
        .isEqualTo(Phase.Suspended);
  }

  @Test
  void stalledNamesTheReason() {
    Desired d =
        new Desired(
            "app",
            new Desired.Problem(Reason.DuplicateName, "two docs"),
            false,
            "g",
            "v",
            null,
            null,
            true,
            true);
    DeploymentStatus s =
        StatusBuilder.build(in(d, null, null, A, A, List.of(A), List.of(), List.of(), false, null));
    assertThat(s.phase()).isEqualTo(Phase.Stalled);
    assertThat(s.condition("Stalled").status()).isEqualTo("True");
    assertThat(s.condition("Stalled").reason()).isEqualTo("DuplicateName");
  }

  @Test
  void anActiveRolloutShowsItsStep() {
    RolloutRecord r =
        RolloutRecord.create(
            "app", RolloutKind.Rollout, A, B, "v2", "g1", Stage.BackingUp, true, null, null);
    DeploymentStatus s =
        StatusBuilder.build(
            in(desired(B), r, null, A, A, List.of(A), List.of(), List.of(), false, null));
    assertThat(s.phase()).isEqualTo(Phase.BackingUp);
    assertThat(s.condition("Reconciling").status()).isEqualTo("True");
  }

  @Test
  void pendingWhileAwaitingPromotion() {
    DeploymentStatus s =
        StatusBuilder.build(
            in(
                desired(B),
                null,
                null,
                A,
                A,
                List.of(A),
                List.of(),
                List.of(),
                false,
                Reason.AwaitingPromotion));
    assertThat(s.phase()).isEqualTo(Phase.Pending);
    assertThat(s.condition("Ready").reason()).isEqualTo("AwaitingPromotion");
  }

  @Test
  void rolledBackWhenTheDesiredCommitIsQuarantinedAndTheOldOneRunsHealthy() {
    DeploymentStatus s =
        StatusBuilder.build(
            in(
                desired(B),
                null,
                finished("RolledBack"),
                A,
                A,
                List.of(A),
                List.of(B),
                List.of(),
                false,
                null));
    assertThat(s.phase()).isEqualTo(Phase.RolledBack);
    assertThat(s.condition("Ready").status()).isEqualTo("False");
    assertThat(s.condition("Healthy").status()).isEqualTo("True");
    assertThat(s.quarantinedCommits()).containsExactly(B);
  }

  @Test
  void degradedWhenAVerifiedCommitsServiceIsDown() {
    DeploymentStatus s =
        StatusBuilder.build(
            in(
                desired(A),
                null,
                null,
                A,
                A,
                List.of(A),
                List.of(),
                List.of("backend"),
                false,
                null));
    assertThat(s.phase()).isEqualTo(Phase.Degraded);
    assertThat(s.condition("Healthy").reason()).isEqualTo("NotRunning");
  }

  @Test
  void failedWhenNothingHealthyRuns() {
    DeploymentStatus s =
        StatusBuilder.build(
            in(
                desired(B),
                null,
                finished("Failed"),
                null,
                null,
                List.of(),
                List.of(B),
                List.of(),
                false,
                null));
    assertThat(s.phase()).isEqualTo(Phase.Failed);
    assertThat(s.condition("Healthy").status()).isEqualTo("Unknown");
  }

  /**
   * Nothing runs after a rollback that succeeded (the document was removed, its services stopped,
   * and added again on the quarantined revision): the message says that, not the old rollout's
   * failure, and what would start something.
   */
  @Test
  void aQuarantinedRevisionWithNothingRunningSaysWhatWouldStartSomething() {
    DeploymentStatus s =
        StatusBuilder.build(
            in(
                desired(B),
                null,
                finished("RolledBack"),
                null,
                null,
                List.of(A),
                List.of(B),
                List.of(),
                false,
                null));
    assertThat(s.phase()).isEqualTo(Phase.Failed);
    assertThat(s.message())
        .isEqualTo(
            "nothing runs, and commit bbbbbbb is quarantined: vtrack rollback app --to aaaaaaa"
                + " starts the last verified commit; a new revision or vtrack reconcile app tries"
                + " bbbbbbb again");
  }

  @Test
  void sourceProblemsKeepThePhaseButClearReady() {
    Desired d =
        new Desired(
            "app",
            null,
            false,
            "g1",
            "v2",
            null,
            new Desired.Problem(Reason.SourceUnavailable, "cannot fetch"),
            true,
            true);
    DeploymentStatus s =
        StatusBuilder.build(
            in(
                d,
                null,
                null,
                A,
                A,
                List.of(A),
                List.of(),
                List.of(),
                false,
                Reason.SourceUnavailable));
    assertThat(s.phase()).isEqualTo(Phase.Healthy);
    assertThat(s.condition("Ready").status()).isEqualTo("False");
    assertThat(s.condition("Ready").reason()).isEqualTo("SourceUnavailable");
  }

  @Test
  void transitionTimesOnlyMoveOnTransitions() {
    DeploymentStatus first =
        StatusBuilder.build(
            in(desired(A), null, null, A, A, List.of(A), List.of(), List.of(), false, null));
    StatusBuilder.Inputs later =
        new StatusBuilder.Inputs(
            desired(A),
            3L,
            null,
            null,
            A,
            A,
            List.of(A),
            List.of(),
            null,
            List.of(),
            List.of(),
            false,
            null,
            List.of(),
            null,
            List.of(),
            null,
            first,
            NOW.plusSeconds(60));
    DeploymentStatus second = StatusBuilder.build(later);
    assertThat(second.condition("Ready").lastTransitionTime())
        .isEqualTo(first.condition("Ready").lastTransitionTime());
  }

  @Test
  void aFailureOfTheHostSaysWhichAttemptFailedAndWhenTheNextIs() {
    StatusBuilder.Inputs ok =
        in(
            desired(A),
            null,
            finished("Succeeded"),
            A,
            A,
            List.of(A),
            List.of(),
            List.of(),
            false,
            null);
    ReconcileError.Transient away =
        new ReconcileError.Transient(
                Reason.SourceUnavailable, "prepare 'deps' could not reach the network")
            .attempted(5, NOW.plusMillis(16_400));
    DeploymentStatus st =
        StatusBuilder.build(
            new StatusBuilder.Inputs(
                ok.desired(),
                ok.observedGeneration(),
                ok.active(),
                ok.lastRollout(),
                ok.currentCommit(),
                ok.lastHealthyCommit(),
                ok.verifiedCommits(),
                ok.quarantinedCommits(),
                ok.quarantineReason(),
                ok.checks(),
                ok.deadServices(),
                ok.degraded(),
                ok.hold(),
                ok.warnings(),
                away,
                ok.instances(),
                ok.proxy(),
                ok.previous(),
                ok.now()));
    DeploymentStatus.Condition ready =
        st.conditions().stream().filter(c -> c.type().equals("Ready")).findFirst().orElseThrow();
    assertThat(ready.reason()).isEqualTo("SourceUnavailable");
    assertThat(ready.message())
        .isEqualTo(
            "prepare 'deps' could not reach the network (attempt 5 failed; the next at"
                + " 2026-11-29T12:00:16Z, or now on `vtrack reconcile`; what runs is untouched)");
    assertThat(st.message())
        .endsWith(
            "; retrying after: prepare 'deps' could not reach the network (attempt 5 failed; the"
                + " next at 2026-11-29T12:00:16Z, or now on `vtrack reconcile`)");
  }

  /** The status of a Healthy deployment of {@code A} asked for {@code d} next. */
  private static DeploymentStatus after(Desired d) {
    DeploymentStatus first =
        StatusBuilder.build(
            in(desired(A), null, null, A, A, List.of(A), List.of(), List.of(), false, null));
    StatusBuilder.Inputs now =
        in(d, null, null, A, A, List.of(A), List.of(), List.of(), false, null);
    return StatusBuilder.build(
        new StatusBuilder.Inputs(
            now.desired(),
            now.observedGeneration(),
            now.active(),
            now.lastRollout(),
            now.currentCommit(),
            now.lastHealthyCommit(),
            now.verifiedCommits(),
            now.quarantinedCommits(),
            now.quarantineReason(),
            now.checks(),
            now.deadServices(),
            now.degraded(),
            now.hold(),
            now.warnings(),
            now.error(),
            now.instances(),
            now.proxy(),
            first,
            NOW.plusSeconds(5)));
  }

  private static Desired unresolved(String revision, Reason why, String message) {
    return new Desired(
        "app", null, false, "g2", revision, null, new Desired.Problem(why, message), true, true);
  }

  @Test
  void anUnknownRevisionResolvesToNothingAndTheMessageSaysWhy() {
    DeploymentStatus s =
        after(
            unresolved(
                "nope", Reason.RevisionNotFound, "revision 'nope' is no tag, branch or commit"));
    // It said A before: what the previous revision resolved to, as if 'nope' did.
    assertThat(s.desiredCommit()).isNull();
    assertThat(s.desiredRevision()).isEqualTo("nope");
    assertThat(s.phase()).isEqualTo(Phase.Healthy);
    assertThat(s.message())
        .isEqualTo(
            "aaaaaaa is verified and its checks pass; revision 'nope' is no tag, branch or commit"
                + " (what runs is left as it is)");
    assertThat(s.condition("Ready").reason()).isEqualTo("RevisionNotFound");
  }

  @Test
  void aSourceThatCannotBeReadKeepsWhatTheSameRevisionResolvedTo() {
    DeploymentStatus same = after(unresolved("v2", Reason.SourceUnavailable, "cannot fetch"));
    assertThat(same.desiredCommit()).isEqualTo(A);
    assertThat(same.message()).endsWith("; cannot fetch (what runs is left as it is)");
    DeploymentStatus other = after(unresolved("v3", Reason.SourceUnavailable, "cannot fetch"));
    assertThat(other.desiredCommit()).isNull();
  }
}
