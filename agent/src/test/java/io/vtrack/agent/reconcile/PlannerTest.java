package io.vtrack.agent.reconcile;

import static org.assertj.core.api.Assertions.assertThat;

import io.vtrack.agent.model.Reason;
import io.vtrack.agent.model.RolloutKind;
import io.vtrack.agent.model.Stage;
import io.vtrack.agent.store.RolloutRecord;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The planner, table-driven from fixtures: (desired, observed) -> step. */
class PlannerTest {
  static final String A = "a".repeat(40);
  static final String B = "b".repeat(40);
  static final Instant NOW = Instant.parse("2026-11-29T12:00:00Z");
  static final RolloutRecord ACTIVE =
      RolloutRecord.create(
          "app", RolloutKind.Rollout, A, B, "v2", "g1", Stage.Verifying, true, null, null);

  static final String C = "c".repeat(40);
  static final RolloutRecord PREPARING =
      RolloutRecord.create(
          "app", RolloutKind.Rollout, A, B, "v2", "g1", Stage.Preparing, true, null, null);
  static final ReconcileError.Transient RETRYING =
      new ReconcileError.Transient(Reason.SourceUnavailable, "image registry unreachable");

  static Observed retrying(RolloutRecord active, ReconcileError.Transient error) {
    return new Observed(active, error, A, A, Set.of(), List.of(), false, null, false, null, NOW);
  }

  static Desired desired(String commit) {
    return new Desired("app", null, false, "g1", "v2", commit, null, true, true);
  }

  static Observed observed(String current) {
    return new Observed(
        null, null, current, current, Set.of(), List.of(), false, null, false, null, NOW);
  }

  static Stream<Arguments> table() {
    Desired.Problem invalid = new Desired.Problem(Reason.InvalidSpec, "spec.x: bad");
    return Stream.of(
        Arguments.of(
            "invalid document stalls, even mid-rollout",
            new Desired("app", invalid, false, "g1", "v2", B, null, true, true),
            new Observed(ACTIVE, null, A, A, Set.of(), List.of(), false, null, false, null, NOW),
            Step.Stall.class),
        Arguments.of(
            "suspended holds",
            new Desired("app", null, true, "g1", "v2", B, null, true, true),
            observed(A),
            Step.Hold.class),
        Arguments.of(
            "an active rollout resumes first",
            desired(B),
            new Observed(
                ACTIVE, null, A, A, Set.of(), List.of("backend"), false, null, false, null, NOW),
            Step.Resume.class),
        Arguments.of("first deploy begins", desired(A), observed(null), Step.Begin.class),
        Arguments.of("new commit begins", desired(B), observed(A), Step.Begin.class),
        Arguments.of("desired runs: idle", desired(A), observed(A), Step.Idle.class),
        Arguments.of(
            "the same commit with another runtime spec rolls out again",
            desired(A),
            new Observed(null, null, A, A, Set.of(), List.of(), false, null, true, null, NOW),
            Step.Begin.class),
        Arguments.of(
            "a spec change that failed is not retried",
            desired(A),
            new Observed(null, null, A, A, Set.of(A), List.of(), false, null, true, null, NOW),
            Step.Idle.class),
        Arguments.of(
            "quarantined desired is not retried",
            desired(B),
            new Observed(null, null, A, A, Set.of(B), List.of(), false, null, false, null, NOW),
            Step.Idle.class),
        Arguments.of(
            "unresolvable revision holds what runs",
            new Desired(
                "app",
                null,
                false,
                "g1",
                "v9",
                null,
                new Desired.Problem(Reason.RevisionNotFound, "no v9"),
                true,
                true),
            observed(A),
            Step.Hold.class),
        Arguments.of(
            "promotion not yet satisfied holds",
            new Desired("app", null, false, "g1", "v2", B, null, false, true),
            observed(A),
            Step.Hold.class),
        Arguments.of(
            "a dead service is healed",
            desired(A),
            new Observed(
                null, null, A, A, Set.of(), List.of("backend"), false, null, false, null, NOW),
            Step.Heal.class),
        Arguments.of(
            "failing checks past the threshold heal everything",
            desired(A),
            new Observed(null, null, A, A, Set.of(), List.of(), true, null, false, null, NOW),
            Step.Heal.class),
        Arguments.of(
            "healing backs off",
            desired(A),
            new Observed(
                null,
                null,
                A,
                A,
                Set.of(),
                List.of("backend"),
                false,
                NOW.plusSeconds(5),
                false,
                null,
                NOW),
            Step.HealLater.class),
        Arguments.of(
            "heal what runs while the desired commit is quarantined",
            desired(B),
            new Observed(
                null, null, A, A, Set.of(B), List.of("backend"), false, null, false, null, NOW),
            Step.Heal.class),
        Arguments.of(
            "public addresses the proxy does not serve as the store says are served again",
            desired(A),
            new Observed(null, null, A, A, Set.of(), List.of(), false, null, false, "lost", NOW),
            Step.Reroute.class),
        Arguments.of(
            "dead services are healed before their routes",
            desired(A),
            new Observed(
                null, null, A, A, Set.of(), List.of("backend"), false, null, false, "lost", NOW),
            Step.Heal.class),
        Arguments.of(
            "a new commit wins over rerouting the old one",
            desired(B),
            new Observed(null, null, A, A, Set.of(), List.of(), false, null, false, "lost", NOW),
            Step.Begin.class),
        Arguments.of(
            "a new commit wins over healing the old one",
            desired(B),
            new Observed(
                null, null, A, A, Set.of(), List.of("backend"), false, null, false, null, NOW),
            Step.Begin.class),
        Arguments.of(
            "a rollout retrying a host failure before anything ran gives way to a new commit",
            desired(C),
            retrying(PREPARING, RETRYING),
            Step.Supersede.class),
        Arguments.of(
            "... and to a changed document for the same commit",
            new Desired("app", null, false, "g2", "v2", B, null, true, true),
            retrying(PREPARING, RETRYING),
            Step.Supersede.class),
        Arguments.of(
            "a rollout retrying for the commit and document still wanted goes on",
            desired(B),
            retrying(PREPARING, RETRYING),
            Step.Resume.class),
        Arguments.of(
            "a rollout making progress finishes before a new commit",
            desired(C),
            retrying(PREPARING, null),
            Step.Resume.class),
        Arguments.of(
            "a rollout retrying after it touched what runs finishes first",
            desired(C),
            retrying(ACTIVE, RETRYING),
            Step.Resume.class),
        Arguments.of(
            "a rollout retrying while the new revision is not resolved goes on",
            new Desired(
                "app",
                null,
                false,
                "g2",
                "v3",
                null,
                new Desired.Problem(Reason.SourceUnavailable, "down"),
                true,
                true),
            retrying(PREPARING, RETRYING),
            Step.Resume.class));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("table")
  void plans(String what, Desired d, Observed o, Class<? extends Step> expected) {
    assertThat(Planner.plan(d, o)).as(what).isInstanceOf(expected);
  }
}
