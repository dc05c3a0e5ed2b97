package io.vtrack.agent.reconcile;

import io.vtrack.agent.model.RolloutResult;
import io.vtrack.agent.model.Stage;
import io.vtrack.agent.store.RolloutRecord;

/** The pure transitions of the rollout state machine (DESIGN.md §5). */
public final class RolloutMachine {
  private RolloutMachine() {}

  /** Where a rollout goes next. {@code result} is set when it is {@link Stage#Done}. */
  public record Transition(Stage next, RolloutResult result, boolean quarantine) {}

  /** The stage after {@code stage} succeeded. */
  public static Transition succeeded(RolloutRecord r, Stage stage) {
    boolean manual = r.manual();
    return switch (stage) {
      case Preparing -> new Transition(Stage.Validating, null, false);
      case Validating -> new Transition(Stage.BackingUp, null, false);
      case BackingUp ->
          new Transition(
              PreviewStage.wanted(Specs.parse(r.specJson()), r)
                  ? Stage.Previewing
                  : Stage.Deploying,
              null,
              false);
      case Previewing -> new Transition(Stage.Deploying, null, false);
      case Deploying -> new Transition(Stage.Verifying, null, false);
      case Verifying -> new Transition(Stage.Done, RolloutResult.Succeeded, false);
      case RollingBack ->
          new Transition(
              Stage.Done, manual ? RolloutResult.Failed : RolloutResult.RolledBack, false);
      case Done -> new Transition(Stage.Done, r.result(), false);
    };
  }

  /**
   * The stage after {@code stage} failed. Before the switch nothing ran differently, so the rollout
   * simply fails; after it, the commit is rolled back when a healthy one is known and rollback is
   * automatic.
   *
   * @param haveHealthy whether a last healthy commit exists to go back to
   */
  public static Transition failed(
      RolloutRecord r, Stage stage, boolean automatic, boolean haveHealthy) {
    boolean manual = r.manual();
    return switch (stage) {
      // A preview ran on a copy: nothing live was touched, so nothing is rolled back.
      case Preparing, Validating, BackingUp, Previewing ->
          new Transition(Stage.Done, RolloutResult.Failed, !manual);
      case Deploying, Verifying -> {
        if (manual || !automatic) {
          yield new Transition(Stage.Done, RolloutResult.Failed, !manual);
        }
        // Without a healthy commit the "rollback" still stops the bad one and restores the data.
        yield new Transition(Stage.RollingBack, haveHealthy ? null : RolloutResult.Failed, true);
      }
      case RollingBack, Done -> new Transition(Stage.Done, RolloutResult.Failed, false);
    };
  }
}
