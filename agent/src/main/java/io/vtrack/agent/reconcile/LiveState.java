package io.vtrack.agent.reconcile;

import io.vtrack.agent.check.CheckResult;
import io.vtrack.agent.check.HealthCheck;
import java.time.Instant;
import java.util.List;

/** In-memory state of one deployment; touched only on the reconciler's context. */
final class LiveState {
  boolean running;
  boolean dirty;
  Reason hold;
  List<CheckResult> checks = List.of();
  int failingRounds;
  boolean degraded;

  /** Restarted by self-heal and not yet seen passing: reported Degraded, not re-healed. */
  boolean recovering;

  /** Callers waiting for the current reconcile to end. */
  final List<io.vertx.core.Promise<Void>> idleWaiters = new java.util.ArrayList<>();

  int healAttempts;
  Instant healNotBefore;
  Long healTimer;
  Desired.Problem buildProblem;
  String buildProblemGeneration;
  DeploymentStatus status;
  StatusBuilder.Inputs lastInputs;
  Monitor monitor;
  String trigger;

  /** Why the last reconcile failed, or null: the same failure is logged once, not every round. */
  String lastFailure;

  /** The post-Healthy check loop of one deployment. */
  static final class Monitor {
    String commit;
    String generation;
    List<HealthCheck> checks;
    long timerId = -1;
    boolean inFlight;
    long intervalMs;
  }
}
