package io.vtrack.agent.reconcile;

import io.vtrack.agent.model.CheckSpec;
import io.vtrack.agent.model.DeploymentSpec;
import io.vtrack.agent.model.Reason;
import io.vtrack.agent.model.RuntimeSpec;
import io.vtrack.agent.release.DeploymentPaths;
import io.vtrack.agent.runtime.CommandPolicy;
import io.vtrack.agent.runtime.Runtimes;
import io.vtrack.agent.source.DesiredDocument;
import io.vtrack.agent.source.DesiredStateRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Whether a document can be acted on at all (DESIGN.md §3, Stalled): one document per name, valid,
 * a runtime this host has, and only commands {@code allowedCommands} allows. Reads the file system
 * (command resolution) and may ask the Docker Engine: call it from a worker.
 */
final class AdmissionPolicy {
  private final Runtimes runtime;
  private final CommandPolicy policy;
  private final Path stateDir;

  AdmissionPolicy(Runtimes runtime, CommandPolicy policy, Path stateDir) {
    this.runtime = runtime;
    this.policy = policy;
    this.stateDir = stateDir;
  }

  /** Why the document cannot be acted on, or null. */
  ReconcileError.Stalled blocker(DesiredStateRegistry.Entry entry) {
    if (entry.duplicated()) {
      List<String> where = new ArrayList<>();
      for (DesiredDocument x : entry.duplicates()) {
        where.add(x.source().kind() + " " + x.source().file());
      }
      return new ReconcileError.Stalled(
          Reason.DuplicateName,
          "name '"
              + entry.name()
              + "' is declared by "
              + entry.duplicates().size()
              + " documents: "
              + where);
    }
    DesiredDocument src = entry.document();
    if (!src.valid()) {
      List<String> errs = new ArrayList<>();
      src.errors().forEach(e -> errs.add(e.toString()));
      return new ReconcileError.Stalled(
          Reason.InvalidSpec, src.source().file() + ": " + String.join("; ", errs));
    }
    DeploymentSpec spec = src.document().spec();
    String unavailable = runtime.unavailable(spec.runtime().type());
    if (unavailable != null) {
      return new ReconcileError.Stalled(Reason.UnsupportedRuntime, unavailable);
    }
    for (int i = 0; i < spec.runtime().services().size(); i++) {
      var files = spec.runtime().services().get(i).envFrom();
      for (int j = 0; j < files.size(); j++) {
        if (!Files.isReadable(Path.of(files.get(j).file()))) {
          return new ReconcileError.Stalled(
              Reason.InvalidSpec,
              "spec.runtime.services["
                  + i
                  + "].envFrom["
                  + j
                  + "].file: cannot read "
                  + files.get(j).file()
                  + " on this host");
        }
      }
    }
    String denied = deniedCommand(entry.name(), spec);
    if (denied != null) {
      return new ReconcileError.Stalled(Reason.CommandNotAllowed, denied);
    }
    return null;
  }

  /**
   * The first command of the document that {@code allowedCommands} refuses, as a message naming the
   * field, or null. argv[0] is resolved as it will be when it runs (the agent's PATH, the release
   * folder for relative paths); the runtime checks again at every start.
   */
  private String deniedCommand(String name, DeploymentSpec spec) {
    if (!policy.restricts()) {
      return null;
    }
    if (spec.runtime().type() == RuntimeSpec.RuntimeType.compose
        && !policy.permitsAny(List.of("docker-compose", "docker"))) {
      return "spec.runtime.type: compose needs the compose CLI (docker-compose or docker) in"
          + " allowedCommands "
          + policy.allowed();
    }
    Path release = DeploymentPaths.of(stateDir, name).release("unresolved");
    Map<String, CommandAt> commands = new LinkedHashMap<>();
    for (int i = 0; i < spec.runtime().services().size(); i++) {
      var s = spec.runtime().services().get(i);
      commands.put("spec.runtime.services[" + i + "].command", new CommandAt(s.command(), s.cwd()));
    }
    for (int i = 0; i < spec.prepare().size(); i++) {
      var c = spec.prepare().get(i);
      commands.put("spec.prepare[" + i + "].command", new CommandAt(c.command(), c.cwd()));
    }
    for (int i = 0; i < spec.validate().size(); i++) {
      var c = spec.validate().get(i);
      commands.put("spec.validate[" + i + "].command", new CommandAt(c.command(), c.cwd()));
    }
    for (int i = 0; i < spec.health().checks().size(); i++) {
      CheckSpec c = spec.health().checks().get(i);
      if (c.command() != null) {
        commands.put(
            "spec.health.checks[" + i + "].command.command",
            new CommandAt(c.command().command(), c.command().cwd()));
      }
    }
    for (Map.Entry<String, CommandAt> e : commands.entrySet()) {
      try {
        policy.approve(e.getValue().argv(), release.resolve(e.getValue().cwd()).normalize());
      } catch (CommandPolicy.NotAllowedException ex) {
        return e.getKey() + ": " + ex.getMessage();
      }
    }
    return null;
  }

  private record CommandAt(List<String> argv, String cwd) {}
}
