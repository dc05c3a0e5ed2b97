package io.vtrack.agent.reconcile;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vtrack.agent.release.DeploymentPaths;
import io.vtrack.agent.release.GitRepositories;
import io.vtrack.agent.source.DesiredStateRegistry;
import io.vtrack.agent.store.StateStore;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * {@code vtrack plan} and {@code vtrack diff}: what the agent would do now and what differs between
 * what runs and what is desired. They only read, outside the deployment's slot.
 */
public final class PlanAndDiff {
  private final Vertx vertx;
  private final StateStore store;
  private final DesiredStateRegistry registry;
  private final GitRepositories repos;
  private final StateReader reader;
  private final Function<String, DeploymentState> states;
  private final Path stateDir;

  PlanAndDiff(
      Vertx vertx,
      StateStore store,
      DesiredStateRegistry registry,
      GitRepositories repos,
      StateReader reader,
      Function<String, DeploymentState> states,
      Path stateDir) {
    this.vertx = vertx;
    this.store = store;
    this.registry = registry;
    this.repos = repos;
    this.reader = reader;
    this.states = states;
    this.stateDir = stateDir;
  }

  /** What {@code of} makes of a fresh read of the deployment, on a worker. */
  private <T> Future<T> fromSnapshot(String name, SnapshotFunction<T> of) {
    DesiredStateRegistry.Entry entry = registry.get(name);
    StateReader.LoopView view = StateReader.LoopView.of(states.apply(name));
    return vertx.executeBlocking(() -> of.apply(reader.read(entry, view)), false);
  }

  @FunctionalInterface
  private interface SnapshotFunction<T> {
    T apply(Snapshot snap) throws Exception;
  }

  /**
   * What the agent would do now, without doing anything: the commit the revision resolves to,
   * whether it is quarantined or awaits promotion, the steps and the backups it would take.
   */
  public Future<Map<String, Object>> plan(String name) {
    return fromSnapshot(
        name,
        snap -> {
          Step step = Planner.plan(snap.desired(), snap.observed());
          return PlanDescription.describe(
              snap, step, DeploymentPaths.of(stateDir, name), store.releases());
        });
  }

  /** The spec changes and the commit log between what runs and what is desired. */
  public Future<Map<String, Object>> diff(String name) {
    return fromSnapshot(
        name,
        snap -> {
          Map<String, Object> out = new LinkedHashMap<>();
          String current = snap.row().currentCommit();
          String desired = snap.desired().desiredCommit();
          out.put("currentCommit", current);
          out.put("desiredRevision", snap.desired().revision());
          out.put("desiredCommit", desired);
          String desiredSpec =
              snap.doc() == null || snap.doc().spec() == null
                  ? null
                  : Specs.json(snap.doc().spec());
          out.put("specChanges", SpecDiff.changes(snap.row().runningSpecJson(), desiredSpec));
          String url = snap.source().effectiveRepoUrl();
          if (url != null && desired != null && !desired.equals(current)) {
            out.put("commits", repos.log(url, current, desired, 100));
            if (current != null) {
              out.put("commitsLeaving", repos.log(url, desired, current, 100));
            }
          } else {
            out.put("commits", List.of());
          }
          return out;
        });
  }
}
