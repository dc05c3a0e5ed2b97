package io.vtrack.agent.reconcile;

import io.vtrack.agent.model.DeploymentSpec;
import io.vtrack.agent.model.RuntimeSpec;
import io.vtrack.agent.runtime.Runtimes;
import io.vtrack.agent.store.DeploymentRepository.DeploymentRow;
import io.vtrack.agent.store.Instance;
import io.vtrack.agent.store.StateStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A document really gone from every source follows its {@code spec.deletionPolicy} (DESIGN.md §4):
 * {@code Stop} stops the services and keeps data and backups; {@code Retain} leaves them running.
 * Either way the agent forgets the deployment. Runs inside the deployment's slot, so nothing else
 * acts on it meanwhile. Blocking: call from a worker.
 */
final class DeletionHandler {
  private static final Logger LOG = LoggerFactory.getLogger(DeletionHandler.class);

  private final StateStore store;
  private final Runtimes runtime;
  private final BlueGreenSteps blueGreen;

  DeletionHandler(StateStore store, Runtimes runtime, BlueGreenSteps blueGreen) {
    this.store = store;
    this.runtime = runtime;
    this.blueGreen = blueGreen;
  }

  /** Applies the deletion policy the deployment's last known spec names; false if none known. */
  boolean removed(String name) throws Exception {
    DeploymentRow row = store.deployments().get(name).orElse(null);
    if (row == null) {
      return false;
    }
    DeploymentSpec spec =
        Specs.parse(row.runningSpecJson() != null ? row.runningSpecJson() : row.specJson());
    String policy =
        row.specJson() == null ? "Stop" : Specs.parse(row.specJson()).deletionPolicy().name();
    RuntimeSpec runtimeSpec = spec == null ? null : spec.runtime();
    if ("Stop".equals(policy)) {
      // The public addresses go first (the proxy stops when it serves nothing else): a client
      // is refused at once rather than sent to a release that is stopping.
      blueGreen.proxyRoutes().unroute(name);
      runtime.stopAll(name, runtimeSpec);
      for (Instance i : store.instances().of(name)) {
        runtime.stopAll(i.runtimeKey(), runtimeSpec);
      }
      LOG.info("{}: document removed: services stopped, data and backups kept", name);
    } else {
      LOG.info("{}: document removed: left running (deletionPolicy Retain)", name);
    }
    store.transaction(
        () -> {
          store
              .events()
              .add(
                  name,
                  "Deleted",
                  policy,
                  "document removed from its source; deletionPolicy " + policy);
          store.deployments().delete(name);
          return null;
        });
    return true;
  }
}
