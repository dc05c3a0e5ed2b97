package io.vtrack.agent.reconcile;

import io.vtrack.agent.model.Reason;
import io.vtrack.agent.model.RolloutResult;
import io.vtrack.agent.model.Stage;
import io.vtrack.agent.store.CrashPoints;
import io.vtrack.agent.store.Instance;
import io.vtrack.agent.store.RolloutRecord;
import io.vtrack.agent.store.StateStore;
import java.sql.SQLException;

/**
 * Every transition of the rollout state machine that writes more than one row, each as one
 * transaction: a kill at any point leaves all of it or none of it (DESIGN.md §5). The transitions
 * themselves come from the pure {@link RolloutMachine}. Blocking (JDBC): call from a worker.
 */
final class RolloutTransitions {
  private final StateStore store;

  RolloutTransitions(StateStore store) {
    this.store = store;
  }

  /** A new rollout with the spec it starts with, and its event. Returns its id. */
  long begin(RolloutRecord r) throws SQLException {
    return store.transaction(
        () -> {
          long id = store.rollouts().create(r);
          CrashPoints.reach("begin.mid");
          store
              .events()
              .add(
                  r.deployment(),
                  id,
                  "RolloutStarted",
                  null,
                  "rollout "
                      + id
                      + " from "
                      + StatusBuilder.short7(r.fromCommit())
                      + " to "
                      + StatusBuilder.short7(r.toCommit()));
          return id;
        });
  }

  /**
   * A rollback asked for through the API: what runs is quarantined and a rollout to {@code r}'s
   * target starts, or neither.
   */
  long requestRollback(RolloutRecord r, String caller) throws SQLException {
    return store.transaction(
        () -> {
          if (r.fromCommit() != null) {
            store
                .commits()
                .quarantine(
                    r.deployment(),
                    r.fromCommit(),
                    r.generation(),
                    "ManualRollback: rolled back by " + caller);
          }
          CrashPoints.reach("rollback.mid");
          long id = store.rollouts().create(r);
          store.rollouts().setOutcome(id, Reason.ManualRollback, "requested by " + caller);
          store
              .events()
              .add(
                  r.deployment(),
                  id,
                  "RollbackRequested",
                  Reason.ManualRollback.name(),
                  "rollback " + id + " to " + StatusBuilder.short7(r.toCommit()) + " by " + caller);
          return id;
        });
  }

  /** The stage after {@code from} succeeded: the next stage, or the end with its result. */
  RolloutMachine.Transition advance(RolloutRecord r, Stage from) throws SQLException {
    RolloutMachine.Transition t = RolloutMachine.succeeded(r, from);
    if (t.next() == Stage.Done) {
      finish(r, t.result(), null, null);
    } else {
      store.rollouts().setStage(r.id(), t.next());
    }
    return t;
  }

  /**
   * The stage {@code stage} failed: the commit is quarantined (when the machine says so and {@code
   * blameCommit}), the outcome recorded and the rollout moved on, in one transaction.
   */
  RolloutMachine.Transition fail(
      RolloutRecord r,
      Stage stage,
      Reason reason,
      String message,
      boolean automatic,
      boolean haveHealthy,
      boolean blameCommit)
      throws SQLException {
    RolloutMachine.Transition t = RolloutMachine.failed(r, stage, automatic, haveHealthy);
    store.transaction(
        () -> {
          if (t.quarantine() && blameCommit) {
            store
                .commits()
                .quarantine(r.deployment(), r.toCommit(), r.generation(), reason + ": " + message);
            store
                .events()
                .add(
                    r.deployment(),
                    r.id(),
                    "Quarantined",
                    reason.name(),
                    StatusBuilder.short7(r.toCommit()) + ": " + message);
          }
          CrashPoints.reach("fail.mid");
          if (stage != Stage.RollingBack) {
            store.rollouts().setOutcome(r.id(), reason, message);
          }
          if (t.next() == Stage.Done) {
            finish(
                r,
                t.result(),
                stage == Stage.RollingBack ? Reason.RollbackFailed : reason,
                stage == Stage.RollingBack ? message : null);
          } else {
            store.rollouts().setStage(r.id(), t.next());
          }
          return null;
        });
    return t;
  }

  /**
   * A rollout that cannot go on for a reason of the document, not the commit (a shared file
   * missing): it ends Failed without quarantining anything.
   */
  void stall(RolloutRecord r, Reason reason, String message) throws SQLException {
    store.transaction(
        () -> {
          store.rollouts().setOutcome(r.id(), reason, message);
          finish(r, RolloutResult.Failed, reason, message);
          return null;
        });
  }

  /** Ends a rollout with its result and event. */
  void finish(RolloutRecord r, RolloutResult result, Reason reason, String message)
      throws SQLException {
    store.transaction(
        () -> {
          store
              .rollouts()
              .finish(
                  r.id(),
                  result,
                  reason == null
                      ? (result == RolloutResult.Succeeded ? Reason.Succeeded : null)
                      : reason,
                  message);
          CrashPoints.reach("finish.mid");
          store
              .events()
              .add(
                  r.deployment(),
                  r.id(),
                  "Rollout" + result.name(),
                  reason == null ? null : reason.name(),
                  "rollout "
                      + r.id()
                      + " to "
                      + StatusBuilder.short7(r.toCommit())
                      + ": "
                      + result);
          return null;
        });
  }

  /** {@code commit} proved healthy with {@code specJson}: verified, with its baselines. */
  void verified(String name, String commit, String baselinesJson, String specJson)
      throws SQLException {
    store.transaction(
        () -> {
          store.commits().markVerified(name, commit, baselinesJson);
          CrashPoints.reach("verified.mid");
          store.deployments().setLastHealthy(name, commit, specJson);
          return null;
        });
  }

  /**
   * The new revision passed verification: verified with its baselines, the last healthy commit, and
   * the rollout Succeeded, all in one transaction.
   */
  RolloutMachine.Transition succeeded(RolloutRecord r, String baselinesJson, String specJson)
      throws SQLException {
    return store.transaction(
        () -> {
          verified(r.deployment(), r.toCommit(), baselinesJson, specJson);
          return advance(r, Stage.Verifying);
        });
  }

  /**
   * Blue-green: the proxy now sends the public addresses to {@code to}. In one transaction the
   * candidate becomes live, the instance that was live stays warm until {@code warmUntil}, what
   * runs is {@code to}'s commit and spec, and the rollout ends.
   */
  RolloutMachine.Transition switched(
      RolloutRecord r,
      Instance to,
      Instance from,
      String warmUntil,
      String baselinesJson,
      String specJson)
      throws SQLException {
    return store.transaction(
        () -> {
          store.instances().setRole(to.deployment(), to.colour(), Instance.Role.Live, null);
          if (from != null && !from.colour().equals(to.colour())) {
            store
                .instances()
                .setRole(from.deployment(), from.colour(), Instance.Role.Warm, warmUntil);
          }
          CrashPoints.reach("switched.mid");
          store.deployments().setRunning(r.deployment(), to.commit(), specJson);
          verified(r.deployment(), r.toCommit(), baselinesJson, specJson);
          return advance(r, Stage.Verifying);
        });
  }

  /** The last healthy revision runs again, healthy: the rollback succeeded. */
  void rolledBack(RolloutRecord r, String commit) throws SQLException {
    store.transaction(
        () -> {
          store.deployments().setLastHealthy(r.deployment(), commit, null);
          advance(r, Stage.RollingBack);
          return null;
        });
  }

  /** Nothing healthy to go back to: the bad revision stopped, and the rollout ends Failed. */
  void nothingToReturnTo(RolloutRecord r, boolean dataRestored) throws SQLException {
    store.transaction(
        () -> {
          store.deployments().setRunning(r.deployment(), null, null);
          finish(
              r,
              RolloutResult.Failed,
              Reason.Failed,
              "no healthy commit to return to: services stopped"
                  + (dataRestored ? ", data restored" : ""));
          return null;
        });
  }
}
