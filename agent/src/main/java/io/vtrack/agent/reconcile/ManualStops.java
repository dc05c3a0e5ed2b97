package io.vtrack.agent.reconcile;

import io.vtrack.agent.model.Reason;
import io.vtrack.agent.model.Stage;
import io.vtrack.agent.store.DeploymentRepository.DeploymentRow;
import io.vtrack.agent.store.RolloutRecord;
import io.vtrack.agent.store.RolloutRepository;
import io.vtrack.agent.store.StateStore;
import java.util.function.Function;

/**
 * A rollout in progress rolled back by hand: its stop recorded in the store (who asked, whether the
 * data comes back), then handed to the rollout, which stops at once in verification or when its
 * stage ends, and what the person who asked is told of it.
 */
final class ManualStops {
  /** Stops a rollout that runs, rolled back by hand; says when that takes effect. */
  @FunctionalInterface
  interface Stopping {
    RolloutExecutor.StopWhen stop(String deployment, long rolloutId, String message);
  }

  private final StateStore store;
  private final ReconcileQueue queue;
  private final Function<String, DeploymentState> states;
  private final Stopping stopping;

  ManualStops(
      StateStore store,
      ReconcileQueue queue,
      Function<String, DeploymentState> states,
      Stopping stopping) {
    this.store = store;
    this.queue = queue;
    this.states = states;
    this.stopping = stopping;
  }

  /**
   * A stop recorded: the rollout, the stage it was in, what it records as its failure ({@code
   * text}), and what follows ({@code then}).
   */
  record Stop(RolloutRecord rollout, Stage stage, String text, String then, boolean suspended) {
    String answer(RolloutExecutor.StopWhen when) {
      String at =
          switch (when) {
            case NOW -> " stopped in " + stage;
            case STAGE_END -> " stops when its stage ends (" + stage + ")";
            case NEXT_STAGE -> " stops before its next stage (" + stage + ")";
          };
      return "rollout "
          + rollout.id()
          + " to "
          + StatusBuilder.short7(rollout.toCommit())
          + at
          + ": "
          + StatusBuilder.short7(rollout.toCommit())
          + " is quarantined"
          + then
          + (suspended && when == RolloutExecutor.StopWhen.NEXT_STAGE
              ? "; the deployment is suspended: this happens when it is resumed"
              : "");
    }
  }

  /**
   * Records the stop, or returns null when the rollout can no longer be stopped (it ended, or a
   * stop of it was recorded already). Blocking: call from a worker.
   */
  Stop record(
      String name,
      RolloutRecord active,
      String to,
      Boolean restoreData,
      String caller,
      boolean specSuspends)
      throws Exception {
    DeploymentRow row = DeploymentCommands.deployed(store, name);
    String back = row.lastHealthyCommit();
    if (back != null && back.equals(active.toCommit())) {
      back = null;
    }
    if (to != null && (back == null || !back.startsWith(to))) {
      throw new IllegalArgumentException(
          "rollout "
              + active.id()
              + " to "
              + StatusBuilder.short7(active.toCommit())
              + " is in progress, and a rollback of it goes back to "
              + (back == null
                  ? "nothing (no commit was verified healthy here)"
                  : "the last healthy commit " + StatusBuilder.short7(back))
              + ", not to '"
              + to
              + "'");
    }
    RolloutRepository.StopRequest stop =
        store.transaction(
            () -> {
              if (!store.rollouts().requestStop(active.id(), caller, restoreData)) {
                return null;
              }
              RolloutRepository.StopRequest asked =
                  store.rollouts().stopRequest(active.id()).orElseThrow();
              store
                  .events()
                  .add(
                      name,
                      active.id(),
                      "RollbackRequested",
                      Reason.ManualRollback.name(),
                      "rollout "
                          + active.id()
                          + " to "
                          + StatusBuilder.short7(active.toCommit())
                          + " "
                          + asked.describe());
              return asked;
            });
    if (stop == null) {
      return null;
    }
    // Before Deploying, nothing that runs was touched: the rollout simply ends.
    boolean touched = stop.stage().ordinal() >= Stage.Deploying.ordinal();
    String then =
        !touched
            ? (back == null
                ? "; nothing was deployed"
                : "; " + StatusBuilder.short7(back) + " runs on")
            : (back == null
                    ? ", and its services stop (no commit was verified healthy here)"
                    : " and the deployment goes back to " + StatusBuilder.short7(back))
                + (restoreData == null
                    ? ""
                    : restoreData
                        ? ", with the data backed up before the rollout"
                        : ", the data kept as it is");
    return new Stop(active, stop.stage(), stop.describe(), then, row.suspended() || specSuspends);
  }

  /**
   * Hands a recorded stop to its rollout and has the deployment looked at; on the agent's context.
   * The answer says when the stop takes effect and what follows.
   */
  DeploymentCommands.Answer take(String name, Stop stop) {
    RolloutExecutor.StopWhen when = stopping.stop(name, stop.rollout().id(), stop.text());
    // A rollout retrying the host's failure (a registry away) stops now, not after its backoff of
    // up to two minutes.
    states.apply(name).retryNotBefore = null;
    queue.enqueue(name);
    return new DeploymentCommands.Answer(stop.rollout().id(), stop.answer(when));
  }
}
