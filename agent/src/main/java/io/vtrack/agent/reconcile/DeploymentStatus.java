package io.vtrack.agent.reconcile;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.vtrack.agent.check.CheckResult;
import io.vtrack.agent.model.Phase;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The status of DESIGN.md §3: served by the HTTP API, written to the custom resource and kept in
 * the state store. Absent fields are left out.
 */
@JsonInclude(JsonInclude.Include.NON_EMPTY)
public record DeploymentStatus(
    Long observedGeneration,
    Phase phase,
    String message,
    String desiredRevision,
    String desiredCommit,
    String currentCommit,
    String lastHealthyCommit,
    List<String> verifiedCommits,
    List<String> quarantinedCommits,
    List<Condition> conditions,
    List<CheckResult> checks,
    LastRollout lastRollout,
    List<String> warnings,
    List<InstanceStatus> instances,
    ProxyStatus proxy) {

  /** Blue-green: one instance, its colour, commit, role, ports and how long it stays warm. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record InstanceStatus(
      String colour,
      String commit,
      String role,
      Map<String, Integer> ports,
      String startedAt,
      String warmUntil) {}

  /** Blue-green: the switch proxy's own health and the routes version it serves. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record ProxyStatus(Boolean healthy, Long pid, Long routesVersion, String message) {}

  /** A Kubernetes-convention condition. */
  @JsonInclude(JsonInclude.Include.NON_EMPTY)
  public record Condition(
      String type, String status, String reason, String message, String lastTransitionTime) {}

  /** The most recent rollout; {@code result} is absent while it runs. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record LastRollout(
      long id,
      String kind,
      String from,
      String to,
      String stage,
      String result,
      String reason,
      String message,
      String startedAt,
      String finishedAt,
      Long durationMs) {}

  /** Whether the phase and every condition's type, status and reason are the same as {@code o}. */
  public boolean sameConditions(DeploymentStatus o) {
    return phase == o.phase()
        && conditions.stream()
            .map(c -> c.type() + c.status() + c.reason())
            .toList()
            .equals(o.conditions().stream().map(c -> c.type() + c.status() + c.reason()).toList());
  }

  /**
   * This status while the deployment's document is gone from its source and its deletion policy
   * runs: Reconciling True, reason {@code Deleting}, with {@code message}.
   */
  public DeploymentStatus deleting(String message, Instant at) {
    List<Condition> cs = new ArrayList<>();
    for (Condition c : conditions == null ? List.<Condition>of() : conditions) {
      cs.add(
          c.type().equals("Reconciling")
              ? new Condition("Reconciling", "True", "Deleting", message, at.toString())
              : c);
    }
    return with(message, cs, checks);
  }

  /** This status without its check results (what changes at every round). */
  public DeploymentStatus withoutChecks() {
    return with(message, conditions, null);
  }

  private DeploymentStatus with(
      String message, List<Condition> conditions, List<CheckResult> checks) {
    return new DeploymentStatus(
        observedGeneration,
        phase,
        message,
        desiredRevision,
        desiredCommit,
        currentCommit,
        lastHealthyCommit,
        verifiedCommits,
        quarantinedCommits,
        conditions,
        checks,
        lastRollout,
        warnings,
        instances,
        proxy);
  }

  public Condition condition(String type) {
    if (conditions == null) {
      return null;
    }
    return conditions.stream().filter(c -> c.type().equals(type)).findFirst().orElse(null);
  }
}
