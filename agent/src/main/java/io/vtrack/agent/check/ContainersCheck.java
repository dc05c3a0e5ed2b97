package io.vtrack.agent.check;

import io.vertx.core.WorkerExecutor;
import io.vtrack.agent.model.CheckSpec;
import io.vtrack.agent.runtime.ComposeRuntime;
import io.vtrack.agent.runtime.EngineContainers.ContainerState;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * Part of every round of a compose deployment: each service of the release has a container of the
 * checked commit, running, and not {@code unhealthy} by its Docker healthcheck. Reported as kind
 * {@code containers}.
 */
final class ContainersCheck extends BlockingCheck {
  private final Supplier<List<ContainerState>> states;
  private final List<String> services;
  private final String commit;

  ContainersCheck(
      String name,
      WorkerExecutor pool,
      Supplier<List<ContainerState>> states,
      List<String> services,
      String commit) {
    super(new CheckSpec(name, null, null, null, null, null, null, null), pool);
    this.states = states;
    this.services = List.copyOf(services);
    this.commit = commit;
  }

  @Override
  public String kind() {
    return "containers";
  }

  @Override
  protected CheckResult result(CheckStatus status, String value, String message, long startNanos) {
    CheckResult r = super.result(status, value, message, startNanos);
    return new CheckResult(
        r.name(),
        kind(),
        r.status(),
        r.value(),
        r.message(),
        r.durationMs(),
        r.lastRun(),
        r.failure());
  }

  @Override
  protected CheckResult check(long start) {
    List<ContainerState> all = states.get();
    List<String> problems = new ArrayList<>();
    boolean unhealthy = false;
    int ok = 0;
    for (String svc : services) {
      List<ContainerState> mine =
          all.stream().filter(c -> c.service().equals(svc) && commit.equals(c.commit())).toList();
      if (mine.isEmpty()) {
        problems.add(svc + ": no container of " + io.vtrack.agent.model.Commits.short7(commit));
        continue;
      }
      for (ContainerState c : mine) {
        if (!"running".equals(c.state())) {
          problems.add(svc + ": " + c.status());
        } else if ("unhealthy".equals(c.health())) {
          unhealthy = true;
          problems.add(svc + ": unhealthy (Docker healthcheck)");
        } else {
          ok++;
        }
      }
    }
    String value = ok + "/" + (ok + problems.size());
    if (!problems.isEmpty()) {
      CheckResult r = result(CheckStatus.Failing, value, String.join("; ", problems), start);
      // Only a Docker healthcheck that says unhealthy is an answer; missing or starting
      // containers are not ready yet (an exit is seen as such through the engine's events).
      return unhealthy ? r : r.as(Failure.NotReady);
    }
    return result(
        CheckStatus.Passing,
        value,
        ok + " containers running (" + String.join(", ", services) + ")",
        start);
  }

  /** The containers check of a compose deployment's commit. */
  static ContainersCheck of(
      WorkerExecutor pool,
      ComposeRuntime runtime,
      String deployment,
      List<String> services,
      String commit,
      List<String> takenNames) {
    String name = takenNames.contains("containers") ? "vtrack-containers" : "containers";
    return new ContainersCheck(
        name, pool, () -> runtime.containerStates(deployment), services, commit);
  }
}
