package io.vtrack.agent.reconcile;

import io.vtrack.agent.model.DeploymentSpec;
import io.vtrack.agent.model.VTrackDeployment;
import io.vtrack.agent.source.DesiredDocument;
import io.vtrack.agent.store.DeploymentRepository.DeploymentRow;
import io.vtrack.agent.store.Instance;
import io.vtrack.agent.store.RolloutRecord;
import java.util.List;

/**
 * Everything one reconcile read, in one place: the document, the planner's inputs and what the
 * status needs besides. Immutable: made on a worker, used on the agent's context.
 *
 * @param runningSpec the spec what runs was started with (null when unknown)
 * @param instances the blue-green instances (none with recreate)
 */
record Snapshot(
    DesiredDocument source,
    VTrackDeployment doc,
    Desired desired,
    Observed observed,
    DeploymentRow row,
    List<String> verified,
    List<String> quarantined,
    String quarantineReason,
    RolloutRecord lastRollout,
    DeploymentSpec runningSpec,
    List<Instance> instances) {

  /** The live blue-green instance, or null (recreate, or nothing live yet). */
  Instance live() {
    return instances.stream().filter(i -> i.role() == Instance.Role.Live).findFirst().orElse(null);
  }

  /** The blue-green instance in {@code role}, or null. */
  Instance inRole(Instance.Role role) {
    return instances.stream().filter(i -> i.role() == role).findFirst().orElse(null);
  }

  /** The spec to monitor and heal what runs with: the one it runs with, else the document's. */
  DeploymentSpec specOfWhatRuns() {
    return runningSpec != null ? runningSpec : doc == null ? null : doc.spec();
  }
}
