package io.vtrack.agent.reconcile;

import io.vtrack.agent.model.CommandStep;
import io.vtrack.agent.model.DeploymentSpec;
import io.vtrack.agent.model.RestoreData;
import io.vtrack.agent.model.RuntimeSpec;
import io.vtrack.agent.model.StrategySpec;
import io.vtrack.agent.release.DeploymentPaths;
import io.vtrack.agent.release.ReleaseBuilder;
import io.vtrack.agent.release.ReleaseSources;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Says in words what a planned step would do. Reads nothing but the snapshot and the disk layout.
 */
final class PlanDescription {
  private PlanDescription() {}

  static Map<String, Object> describe(
      Snapshot snap, Step step, DeploymentPaths paths, ReleaseSources sources) {
    Map<String, Object> out = new LinkedHashMap<>();
    Desired d = snap.desired();
    String desired = d.desiredCommit();
    out.put("revision", d.revision());
    out.put("desiredCommit", desired);
    out.put("currentCommit", snap.row().currentCommit());
    out.put("lastHealthyCommit", snap.row().lastHealthyCommit());
    out.put("quarantined", desired != null && snap.quarantined().contains(desired));
    out.put("awaitingPromotion", desired != null && !d.promotionSatisfied());
    if (d.resolutionProblem() != null) {
      out.put("problem", d.resolutionProblem().reason() + ": " + d.resolutionProblem().message());
    }
    List<String> steps = new ArrayList<>();
    List<String> backups = new ArrayList<>();
    String action;
    if (step instanceof Step.Stall s) {
      action = "Stall";
      steps.add("nothing: " + s.problem().reason() + ": " + s.problem().message());
    } else if (step instanceof Step.Hold h) {
      action = "Hold";
      steps.add("nothing: " + h.reason() + ": " + h.message());
    } else if (step instanceof Step.Idle) {
      action = "Idle";
      steps.add(
          desired != null && snap.quarantined().contains(desired)
              ? "nothing: "
                  + StatusBuilder.short7(desired)
                  + " is quarantined"
                  + (snap.quarantineReason() == null ? "" : " (" + snap.quarantineReason() + ")")
                  + "; vtrack reconcile lifts the quarantine"
              : "nothing: " + StatusBuilder.short7(snap.row().currentCommit()) + " already runs");
    } else if (step instanceof Step.Heal h) {
      action = "Heal";
      steps.add(
          "restart "
              + (h.all() ? "every service" : String.join(", ", h.services()))
              + ": "
              + h.why());
    } else if (step instanceof Step.Reroute r) {
      action = "Reroute";
      steps.add("write the switch proxy's routes of the live instance again: " + r.why());
    } else if (step instanceof Step.HealLater later) {
      action = "HealLater";
      steps.add("restart services after the self-heal backoff, at " + later.at());
    } else if (step instanceof Step.Supersede sup) {
      action = "Supersede";
      steps.add(
          "end rollout "
              + sup.rollout().id()
              + ", retrying at "
              + sup.rollout().stage()
              + " ("
              + sup.retrying().message()
              + "), without quarantining "
              + StatusBuilder.short7(sup.rollout().toCommit()));
      steps.addAll(rolloutSteps(snap, sup.desiredCommit(), paths, sources, backups));
    } else if (step instanceof Step.Resume r) {
      action = "Resume";
      steps.add(
          r.rollout().stopBy() == null
              ? "continue rollout " + r.rollout().id() + " at " + r.rollout().stage()
              : "stop rollout "
                  + r.rollout().id()
                  + " at "
                  + r.rollout().stage()
                  + " (rolled back by "
                  + r.rollout().stopBy()
                  + "): quarantine "
                  + StatusBuilder.short7(r.rollout().toCommit())
                  + " and go back as after a failure");
    } else {
      action = "Begin";
      steps.addAll(rolloutSteps(snap, ((Step.Begin) step).toCommit(), paths, sources, backups));
    }
    // While held (suspended, awaiting promotion), say what the rollout would be once it lifts.
    if (!(step instanceof Step.Begin)
        && desired != null
        && (!desired.equals(snap.row().currentCommit()) || snap.observed().specChanged())
        && !snap.quarantined().contains(desired)
        && snap.doc() != null
        && snap.observed().active() == null
        && d.blocker() == null) {
      List<String> pendingBackups = new ArrayList<>();
      Map<String, Object> pending = new LinkedHashMap<>();
      pending.put("to", desired);
      pending.put("steps", rolloutSteps(snap, desired, paths, sources, pendingBackups));
      pending.put("backups", pendingBackups);
      out.put("pendingRollout", pending);
    }
    out.put("action", action);
    out.put("steps", steps);
    out.put("backups", backups);
    return out;
  }

  private static List<String> rolloutSteps(
      Snapshot snap,
      String to,
      DeploymentPaths paths,
      ReleaseSources sources,
      List<String> backups) {
    List<String> steps = new ArrayList<>();
    DeploymentSpec spec = snap.doc().spec();
    String rel = paths.release(to).toString();
    boolean elsewhere;
    try {
      elsewhere = ReleaseBuilder.exportedFromElsewhere(sources, paths, to, spec);
    } catch (java.sql.SQLException e) {
      elsewhere = false;
    }
    if (elsewhere && RolloutSteps.releaseRuns(snap, to)) {
      steps.add(
          "stop, Stalled (InvalidSpec): the release "
              + rel
              + " runs, exported from another folder than spec.source.path names");
      return steps;
    }
    steps.add(
        (!ReleaseBuilder.isExported(paths, to)
                ? "export release "
                : elsewhere ? "export release again (from spec.source.path) " : "reuse release ")
            + rel);
    spec.prepare().forEach(c -> steps.add(command("prepare", c)));
    spec.validate().forEach(c -> steps.add(command("validate", c)));
    for (String db : spec.backup().sqlite()) {
      backups.add("sqlite " + paths.shared().resolve(db));
    }
    for (String f : spec.backup().files()) {
      backups.add("file " + paths.shared().resolve(f));
    }
    steps.add(
        backups.isEmpty()
            ? "no backup (spec.backup is empty)"
            : "back up " + backups.size() + " path(s) into " + paths.backups() + "/<rollout-id>/");
    List<String> names =
        spec.runtime().services().stream().map(RuntimeSpec.ServiceSpec::name).toList();
    StrategySpec.BlueGreen bg = spec.blueGreen();
    String what = names.isEmpty() ? "the compose project" : names.toString();
    if (bg != null && bg.preview() == StrategySpec.Preview.snapshot) {
      steps.add(
          "preview on a copy of the data: copy "
              + spec.runtime().sharedPaths()
              + " from this rollout's backup into "
              + paths.previews()
              + "/<rollout-id>/shared/, start "
              + what
              + " of "
              + StatusBuilder.short7(to)
              + " there on ports of its own and verify it there by the rules below; on failure"
              + " quarantine it (PreviewFailed) with nothing live touched; then stop the preview"
              + " and delete its copy");
    }
    if (bg != null) {
      io.vtrack.agent.store.Instance live = snap.live();
      steps.add(
          "start "
              + what
              + " of "
              + StatusBuilder.short7(to)
              + " beside "
              + (live == null
                  ? "nothing"
                  : "the live "
                      + live.colour()
                      + " instance of "
                      + StatusBuilder.short7(live.commit()))
              + ", on ports of its own");
    } else {
      String running = snap.row().currentCommit();
      if (LatencyNow.measures(snap, spec, to, false)) {
        steps.add(
            "measure the latency of "
                + StatusBuilder.short7(running)
                + " before it stops: the higher of that and its recorded baseline is compared");
      }
      if (running != null) {
        steps.add("stop " + what + " of " + StatusBuilder.short7(running));
      }
      steps.add("start " + what + " of " + StatusBuilder.short7(to));
    }
    List<String> checks =
        spec.health().checks().stream().map(c -> c.name() + " (" + c.kind() + ")").toList();
    int wrong = spec.health().startupFailureThreshold();
    boolean latency = spec.health().checks().stream().anyMatch(c -> c.latency() != null);
    steps.add(
        "verify "
            + checks
            + " every "
            + spec.health().interval().text()
            + " (the first round once the checked addresses accept connections"
            + (bg != null && latency ? "; latency side by side with the live instance" : "")
            + "): fails at once when a service exits or a log count passes its max, after "
            + wrong
            + (wrong == 1 ? " round" : " rounds in a row")
            + " with a wrong answer (startupFailureThreshold), or when nothing passes within "
            + spec.health().startupTimeout().text()
            + " (startupTimeout); then every round must pass for "
            + spec.health().window().text()
            + " (window)");
    if (bg != null) {
      steps.add(
          "switch the proxy's addresses "
              + spec.runtime().services().stream()
                  .filter(x -> x.expose() != null)
                  .map(x -> x.expose().listen())
                  .toList()
              + " to it; the previous instance stays warm for "
              + bg.keepWarm().text()
              + " (a rollback meanwhile is a switch back)");
      steps.add(
          "on failure before the switch: quarantine "
              + StatusBuilder.short7(to)
              + " and stop it; the live instance never stopped"
              + (spec.rollback().restoreData() == RestoreData.Always
                  ? "; restore the backup and restart the live instance on it"
                  : spec.rollback().restoreData().enabled()
                      ? "; restore the backup (and restart the live instance on it) only if a"
                          + " sqlite check failed"
                      : ""));
      return steps;
    }
    steps.add(
        spec.rollback().automatic()
            ? "on failure: quarantine "
                + StatusBuilder.short7(to)
                + ", roll back to "
                + StatusBuilder.short7(snap.row().lastHealthyCommit())
                + (spec.rollback().restoreData().enabled() ? " and restore the backup" : "")
                + "; done when it passes one full round (within startupTimeout)"
            : "on failure: stop at Failed (rollback.automatic is false)");
    return steps;
  }

  private static String command(String kind, CommandStep c) {
    return kind
        + " "
        + c.name()
        + ": "
        + String.join(" ", c.command())
        + " (in "
        + c.cwd()
        + ", timeout "
        + c.timeout().text()
        + ")";
  }
}
