package io.vtrack.agent.reconcile;

import static org.assertj.core.api.Assertions.assertThat;

import io.vtrack.agent.model.RolloutKind;
import io.vtrack.agent.model.RolloutResult;
import io.vtrack.agent.model.Stage;
import io.vtrack.agent.store.RolloutRecord;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class RolloutMachineTest {
  static RolloutRecord rollout(RolloutKind kind) {
    return RolloutRecord.create(
        "app", kind, "a", "b", "v2", "g", Stage.Preparing, true, null, null);
  }

  static Stream<Arguments> successes() {
    return Stream.of(
        Arguments.of(Stage.Preparing, Stage.Validating, null),
        Arguments.of(Stage.Validating, Stage.BackingUp, null),
        Arguments.of(Stage.BackingUp, Stage.Deploying, null),
        Arguments.of(Stage.Deploying, Stage.Verifying, null),
        Arguments.of(Stage.Verifying, Stage.Done, RolloutResult.Succeeded),
        Arguments.of(Stage.RollingBack, Stage.Done, RolloutResult.RolledBack));
  }

  @ParameterizedTest(name = "{0} succeeded -> {1}")
  @MethodSource("successes")
  void advances(Stage from, Stage next, RolloutResult result) {
    RolloutMachine.Transition t = RolloutMachine.succeeded(rollout(RolloutKind.Rollout), from);
    assertThat(t.next()).isEqualTo(next);
    assertThat(t.result()).isEqualTo(result);
  }

  static Stream<Arguments> failures() {
    return Stream.of(
        // stage, automatic, haveHealthy -> next, result, quarantine
        Arguments.of(Stage.Preparing, true, true, Stage.Done, RolloutResult.Failed, true),
        Arguments.of(Stage.Validating, true, true, Stage.Done, RolloutResult.Failed, true),
        Arguments.of(Stage.BackingUp, true, true, Stage.Done, RolloutResult.Failed, true),
        Arguments.of(Stage.Deploying, true, true, Stage.RollingBack, null, true),
        Arguments.of(Stage.Verifying, true, true, Stage.RollingBack, null, true),
        Arguments.of(Stage.Verifying, true, false, Stage.RollingBack, RolloutResult.Failed, true),
        Arguments.of(Stage.Verifying, false, true, Stage.Done, RolloutResult.Failed, true),
        Arguments.of(Stage.RollingBack, true, true, Stage.Done, RolloutResult.Failed, false));
  }

  @ParameterizedTest(name = "{0} failed (automatic={1}, healthy known={2}) -> {3}")
  @MethodSource("failures")
  void failsOver(
      Stage stage,
      boolean automatic,
      boolean haveHealthy,
      Stage next,
      RolloutResult result,
      boolean quarantine) {
    RolloutMachine.Transition t =
        RolloutMachine.failed(rollout(RolloutKind.Rollout), stage, automatic, haveHealthy);
    assertThat(t.next()).isEqualTo(next);
    assertThat(t.result()).isEqualTo(result);
    assertThat(t.quarantine()).isEqualTo(quarantine);
  }

  @ParameterizedTest
  @MethodSource("successes")
  void aManualRollbackThatFailsIsNotRolledBackAgain(Stage ignored) {
    RolloutMachine.Transition t =
        RolloutMachine.failed(rollout(RolloutKind.ManualRollback), Stage.Verifying, true, true);
    assertThat(t.next()).isEqualTo(Stage.Done);
    assertThat(t.result()).isEqualTo(RolloutResult.Failed);
    assertThat(t.quarantine()).isFalse();
  }
}
