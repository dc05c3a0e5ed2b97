package io.vtrack.agent.reconcile;

import io.vtrack.agent.model.DeploymentSpec;
import io.vtrack.agent.release.DeploymentPaths;
import io.vtrack.agent.source.DesiredDocument;
import io.vtrack.agent.store.RolloutRecord;

/**
 * What one stage of a rollout works from: the rollout as stored, the spec it started with (never
 * the document as it reads now), where its files are, and the snapshot the stage was planned from.
 */
record StageInput(
    String name,
    RolloutRecord rollout,
    DeploymentSpec spec,
    DesiredDocument source,
    DeploymentPaths paths,
    Snapshot snap) {

  static StageInput of(Snapshot snap, RolloutRecord r, DeploymentPaths paths) {
    DeploymentSpec spec = Specs.parse(r.specJson());
    return new StageInput(
        r.deployment(), r, spec != null ? spec : snap.doc().spec(), snap.source(), paths, snap);
  }
}
