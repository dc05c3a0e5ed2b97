package io.vtrack.agent.reconcile;

import io.vtrack.agent.model.DeploymentSpec;
import io.vtrack.agent.model.Reason;
import io.vtrack.agent.model.VTrackDeployment;
import io.vtrack.agent.release.DeploymentPaths;
import io.vtrack.agent.release.GitRepositories;
import io.vtrack.agent.release.RevisionNotFoundException;
import io.vtrack.agent.release.SourceUnavailableException;
import io.vtrack.agent.runtime.AppRuntime;
import io.vtrack.agent.runtime.Runtimes;
import io.vtrack.agent.source.DesiredDocument;
import io.vtrack.agent.source.DesiredStateRegistry;
import io.vtrack.agent.source.DocumentReader;
import io.vtrack.agent.store.DeploymentRepository.DeploymentRow;
import io.vtrack.agent.store.Instance;
import io.vtrack.agent.store.RolloutRecord;
import io.vtrack.agent.store.StateStore;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Reads the whole desired and observed state of one deployment into a {@link Snapshot}. Writes
 * nothing: neither the store nor a repository mirror. Blocking (JDBC, jgit, process table): call it
 * from a worker with immutable inputs.
 */
final class StateReader {
  private final StateStore store;
  private final GitRepositories repos;
  private final Runtimes runtime;
  private final AdmissionPolicy admission;
  private final Path stateDir;

  /** What the reader needs from the loop-owned state, copied for the worker. */
  record LoopView(
      boolean degraded,
      Instant healNotBefore,
      boolean healVerdictPending,
      ReconcileError.Stalled buildProblem,
      String buildProblemGeneration,
      String buildProblemCommit,
      ReconcileError.Transient retrying,
      List<ExclusiveClaims.Shared> sharedClaims) {
    static LoopView of(DeploymentState s) {
      return new LoopView(
          s.degraded || s.recovering,
          s.healNotBefore,
          s.healVerdictAfterNanos != 0,
          s.buildProblem,
          s.buildProblemGeneration,
          s.buildProblemCommit,
          s.transientError,
          s.sharedClaims);
    }
  }

  StateReader(
      StateStore store,
      GitRepositories repos,
      Runtimes runtime,
      AdmissionPolicy admission,
      Path stateDir) {
    this.store = store;
    this.repos = repos;
    this.runtime = runtime;
    this.admission = admission;
    this.stateDir = stateDir;
  }

  Snapshot read(DesiredStateRegistry.Entry entry, LoopView loop) throws Exception {
    String name = entry.name();
    DesiredDocument src = entry.document();
    VTrackDeployment doc = src.document();
    ReconcileError.Stalled blocker = admission.blocker(entry);
    if (blocker == null && !loop.sharedClaims().isEmpty()) {
      blocker =
          ExclusiveClaims.blocker(
              name, loop.sharedClaims(), store.instances().all(), store.deployments().all());
    }
    String revision =
        doc != null && doc.spec() != null && doc.spec().source() != null
            ? doc.spec().source().revision()
            : null;
    DeploymentRow row =
        store.deployments().get(name).orElse(DeploymentRow.empty(name, src.generation()));
    boolean suspended =
        row.suspended() || (doc != null && doc.spec() != null && doc.spec().suspended());

    String commit = null;
    Desired.Problem resolution = null;
    if (blocker == null && src.valid()) {
      String url = src.effectiveRepoUrl();
      try {
        // A failed fetch is the cause, even when the stale mirror cannot resolve the revision.
        String fetchError = repos.fetchError(url);
        if (fetchError != null) {
          resolution = new Desired.Problem(Reason.SourceUnavailable, fetchError);
        } else {
          commit = repos.resolve(url, revision);
        }
      } catch (SourceUnavailableException e) {
        resolution = new Desired.Problem(Reason.SourceUnavailable, e.getMessage());
      } catch (RevisionNotFoundException e) {
        resolution = new Desired.Problem(Reason.RevisionNotFound, e.getMessage());
      }
    }
    // A problem a rollout found in a release (its compose file, a shared file it lacks) holds for
    // that commit under this document; the next commit of a branch, or another document, is tried.
    if (blocker == null
        && loop.buildProblem() != null
        && src.generation().equals(loop.buildProblemGeneration())
        && (commit == null || commit.equals(loop.buildProblemCommit()))) {
      blocker = loop.buildProblem();
      commit = null;
      resolution = null;
    }
    boolean promotionOk = true;
    if (commit != null && doc.spec().promotion() != null) {
      promotionOk =
          store.commits().verified(doc.spec().promotion().requireHealthyIn()).contains(commit);
    }
    boolean automatic = doc == null || doc.spec() == null || doc.spec().rollback().automatic();
    Desired desired =
        new Desired(
            name,
            blocker == null ? null : new Desired.Problem(blocker.reason(), blocker.message()),
            suspended,
            src.generation(),
            revision,
            commit,
            resolution,
            promotionOk,
            automatic);

    List<String> verified = store.commits().verified(name);
    List<String> quarantined = store.commits().quarantined(name, src.generation());
    RolloutRecord active = store.rollouts().active(name).orElse(null);
    RolloutRecord last = store.rollouts().lastFinished(name).orElse(null);
    String current = row.currentCommit();
    DeploymentSpec running = Specs.parse(row.runningSpecJson());
    List<Instance> instances = store.instances().of(name);
    Instance live =
        instances.stream().filter(i -> i.role() == Instance.Role.Live).findFirst().orElse(null);
    List<String> dead = new ArrayList<>();
    if (current != null && verified.contains(current) && active == null && blocker == null) {
      DeploymentSpec spec = running != null ? running : doc.spec();
      Map<String, AppRuntime.ServiceState> states =
          runtime.observe(live == null ? name : live.runtimeKey());
      Path release = DeploymentPaths.of(stateDir, name).release(current);
      for (String s : runtime.services(name, spec.runtime(), release)) {
        AppRuntime.ServiceState st = states.get(s);
        if (st == null || !st.alive() || !current.equals(st.commit())) {
          dead.add(s);
        }
      }
    }
    String qReason =
        commit != null && quarantined.contains(commit)
            ? store.commits().quarantineReason(name, commit).orElse(null)
            : null;
    boolean specChanged =
        doc != null
            && doc.spec() != null
            && running != null
            && !Objects.equals(Specs.runtimeIdentity(running), Specs.runtimeIdentity(doc.spec()));
    // The proxy's routes for what runs live, as the store says (routes.json edited or lost).
    String routesDrift =
        live != null && current != null && active == null && blocker == null
            ? ProxyRoutes.drift(name, live, io.vtrack.agent.proxy.Routes.file(stateDir))
            : null;
    Observed observed =
        new Observed(
            active,
            active == null ? null : loop.retrying(),
            current,
            row.lastHealthyCommit(),
            new HashSet<>(quarantined),
            dead,
            loop.degraded(),
            healNotBefore(loop, dead),
            specChanged,
            routesDrift,
            Instant.now());
    return new Snapshot(
        src, doc, desired, observed, row, verified, quarantined, qReason, last, running, instances);
  }

  /** How soon a verdict of the monitor on what a self-heal restarted is looked for again. */
  static final Duration VERDICT_RECHECK = Duration.ofSeconds(1);

  /**
   * No self-heal before its backoff, nor, for checks that fail, before the monitor has looked at
   * what the last one restarted (a service found dead is restarted without waiting for a round).
   */
  private static Instant healNotBefore(LoopView loop, List<String> dead) {
    Instant notBefore = loop.healNotBefore();
    if (loop.healVerdictPending() && dead.isEmpty()) {
      Instant recheck = Instant.now().plus(VERDICT_RECHECK);
      if (notBefore == null || notBefore.isBefore(recheck)) {
        notBefore = recheck;
      }
    }
    return notBefore;
  }

  /** The canonical JSON of a document's spec, as stored with the deployment and its rollouts. */
  static String specJson(DeploymentSpec spec) {
    return DocumentReader.CANONICAL.writeValueAsString(spec);
  }
}
