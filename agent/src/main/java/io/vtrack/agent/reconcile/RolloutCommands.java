package io.vtrack.agent.reconcile;

import io.vtrack.agent.model.CommandStep;
import io.vtrack.agent.model.Reason;
import io.vtrack.agent.release.ConfinedPath;
import io.vtrack.agent.runtime.CommandPolicy;
import io.vtrack.agent.runtime.CommandRunner;
import io.vtrack.agent.runtime.NetworkUnavailableException;
import io.vtrack.agent.store.RolloutRecord;
import io.vtrack.agent.store.RolloutRepository;
import io.vtrack.agent.store.StateStore;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The commands a rollout runs before anything that runs is touched (its {@code prepare} and {@code
 * validate} commands, a compose build), and what stops them when the rollout is rolled back by hand
 * meanwhile: the command is killed and none starts after. Blocking: call from a worker.
 */
final class RolloutCommands {
  private final StateStore store;
  private final CommandPolicy policy;

  /** What stops the commands of each rollout under way, by rollout. */
  private final Map<Long, CommandRunner.Stopper> stoppers = new ConcurrentHashMap<>();

  RolloutCommands(StateStore store, CommandPolicy policy) {
    this.store = store;
    this.policy = policy;
  }

  /**
   * Runs {@code c} in the rollout's release (a {@code prepare} or {@code validate} command, as
   * {@code what} says) and returns its output; its failure is the commit's ({@code reason}), unless
   * a prepare command could not reach the network or the policy refuses the command (the host's and
   * the document's).
   */
  String run(StageInput in, CommandStep c, Reason reason, String what) throws Exception {
    RolloutRecord r = in.rollout();
    Path cwd =
        ConfinedPath.realInside(in.paths().release(r.toCommit()), c.cwd(), in.paths().shared());
    Map<String, String> env =
        RolloutSteps.serviceEnv(in.name(), r.toCommit(), r.revision(), in.paths());
    env.putAll(c.env());
    // Refused before it runs: the document must change, the commit is not to blame.
    policy.approve(c.command(), cwd);
    CommandRunner.Result res =
        CommandRunner.run(policy, c.command(), cwd, env, c.timeout().duration(), stopper(r));
    if (res.stopped()) {
      throw stopped(r, what + " '" + c.name() + "' " + res.describe());
    }
    if (!res.ok() && reason == Reason.PrepareFailed) {
      Optional<NetworkUnavailableException> away =
          NetworkUnavailableException.in(
              res.output(),
              what + " '" + c.name() + "' could not reach the network (" + res.describe() + ")");
      if (away.isPresent()) {
        throw away.get();
      }
    }
    if (!res.ok()) {
      throw RolloutSteps.commitFailed(
          reason,
          what + " '" + c.name() + "' failed (" + res.describe() + "): " + res.output().strip());
    }
    return res.output();
  }

  /** What stops the commands of rollout {@code r}. */
  CommandRunner.Stopper stopper(RolloutRecord r) {
    return stoppers.computeIfAbsent(r.id(), id -> new CommandRunner.Stopper());
  }

  /** The failure of rollout {@code r}, rolled back by hand while {@code what} ran. */
  ReconcileError.Failed stopped(RolloutRecord r, String what) throws Exception {
    return RolloutSteps.commitFailed(
        Reason.ManualRollback,
        store
                .rollouts()
                .stopRequest(r.id())
                .map(RolloutRepository.StopRequest::describe)
                .orElse("rolled back")
            + " ("
            + what
            + ")");
  }

  /**
   * Rollout {@code rolloutId} is rolled back: the command of it that runs is killed, and none
   * starts after. Whether one ran.
   */
  boolean stop(long rolloutId) {
    return stoppers.computeIfAbsent(rolloutId, id -> new CommandRunner.Stopper()).stop();
  }

  /** Rollout {@code rolloutId} ended: nothing of it is left to stop. */
  void ended(long rolloutId) {
    stoppers.remove(rolloutId);
  }
}
