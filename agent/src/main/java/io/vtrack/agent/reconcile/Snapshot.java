package io.vtrack.agent.reconcile;

import io.vtrack.agent.model.VTrackDeployment;
import io.vtrack.agent.source.DesiredDocument;
import io.vtrack.agent.store.RolloutRecord;
import io.vtrack.agent.store.StateStore.DeploymentRow;
import java.util.List;

/**
 * Everything one reconcile read, in one place: the document, the planner's inputs and what the
 * status needs besides.
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
    RolloutRecord lastRollout) {}
