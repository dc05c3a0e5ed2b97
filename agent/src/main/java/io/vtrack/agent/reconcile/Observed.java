package io.vtrack.agent.reconcile;

import io.vtrack.agent.store.RolloutRecord;
import java.time.Instant;
import java.util.List;
import java.util.Set;

/**
 * What is true on the host and in the state store.
 *
 * @param active the rollout in progress, or null
 * @param retrying the failure of the host that the active rollout is backing off from, or null
 * @param deadServices services of the current commit that should run and do not
 * @param degraded the health monitor saw {@code failureThreshold} failing rounds in a row
 * @param healNotBefore self-heal backoff: no restart before this instant (null: any time)
 * @param specChanged what runs was started with another runtime spec than the document's now
 * @param routesDrift why the switch proxy's routes for the live instance are not what the store
 *     says (routes.json edited, lost or unreadable), or null
 */
public record Observed(
    RolloutRecord active,
    ReconcileError.Transient retrying,
    String currentCommit,
    String lastHealthyCommit,
    Set<String> quarantined,
    List<String> deadServices,
    boolean degraded,
    Instant healNotBefore,
    boolean specChanged,
    String routesDrift,
    Instant now) {}
