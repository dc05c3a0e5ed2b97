package io.vtrack.agent.reconcile;

import io.vtrack.agent.store.RolloutRecord;
import io.vtrack.agent.store.StateStore;

/**
 * Records one step of a rollout as it runs: its start, then its result and output, in the store and
 * on the event stream. Blocking (JDBC): call from a worker.
 */
final class StepRecorder {
  /** The work of a step; what it returns is the step's output. */
  @FunctionalInterface
  interface Work {
    String run() throws Exception;
  }

  private final StateStore store;
  private final EventStream events;
  private final io.vtrack.agent.metrics.AgentMetrics metrics;

  StepRecorder(StateStore store, EventStream events, io.vtrack.agent.metrics.AgentMetrics metrics) {
    this.store = store;
    this.events = events;
    this.metrics = metrics;
  }

  /**
   * A step's output: what was done, then what is worth telling about it ({@code said}, e.g. what
   * {@code AppRuntime.stopAll} returns) when there is anything.
   */
  static String saying(String done, String said) {
    return said.isEmpty() ? done : done + "; " + said;
  }

  /**
   * Runs {@code work} as step {@code step} of {@code r}; its exception is recorded, then thrown.
   */
  String run(RolloutRecord r, String step, Work work) throws Exception {
    long id = store.rollouts().startStep(r.id(), step);
    events.emit("step", r.deployment(), "rolloutId", r.id(), "step", step, "state", "Started");
    String result = "Failed";
    String out = null;
    try {
      out = work.run();
      result = "Succeeded";
      return out;
    } catch (ReconcileError.Failed e) {
      out = e.getMessage();
      throw e;
    } catch (Exception e) {
      out = String.valueOf(e.getMessage());
      throw e;
    } finally {
      end(r, id, step, "Succeeded".equals(result), out);
    }
  }

  /** Starts a step that ends later (verification); returns its id. */
  long start(RolloutRecord r, String step) throws Exception {
    long id = store.rollouts().startStep(r.id(), step);
    events.emit("step", r.deployment(), "rolloutId", r.id(), "step", step, "state", "Started");
    return id;
  }

  void end(RolloutRecord r, long id, String step, boolean ok, String output) throws Exception {
    String result = ok ? "Succeeded" : "Failed";
    store.rollouts().finishStep(id, result, output);
    if (metrics != null) {
      metrics.stepEnded(r.deployment(), step, result);
    }
    events.emit(
        "step",
        r.deployment(),
        "rolloutId",
        r.id(),
        "step",
        step,
        "state",
        result,
        "output",
        EventStream.tail(output, 2000));
  }
}
