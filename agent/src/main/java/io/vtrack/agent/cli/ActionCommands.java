package io.vtrack.agent.cli;

import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** The commands that change what the agent does: rollback, reconcile, suspend, resume. */
final class ActionCommands {
  private ActionCommands() {}

  @Command(
      name = "rollback",
      description =
          "Quarantine what runs and deploy a verified commit; during a rollout, stop it and go"
              + " back.")
  static class Rollback extends ApiCommand {
    @Parameters(index = "0", description = "deployment name")
    String name;

    @Option(
        names = "--to",
        description = "a commit verified healthy here (default: the previous one)")
    String to;

    @Option(
        names = "--restore-data",
        description =
            "restore the data backup taken before the current commit (for a rollout in"
                + " progress: default as its rollback.restoreData says)")
    boolean restoreData;

    @Override
    int run(ApiClient api) throws Exception {
      Map<String, Object> body = new LinkedHashMap<>();
      if (to != null) {
        body.put("to", to);
      }
      if (restoreData) {
        body.put("restoreData", true);
      }
      ApiClient.Response r = api.post("/api/v1/deployments/" + name + "/rollback", body);
      if (!r.ok()) {
        return failure(r);
      }
      Object message = r.body().get("message");
      out()
          .println(
              message != null ? message : "rollback started: rollout " + r.body().get("rolloutId"));
      return ExitCodes.OK;
    }
  }

  @Command(name = "reconcile", description = "Reconcile now; also retries a quarantined commit.")
  static class Reconcile extends ApiCommand {
    @Parameters(index = "0", description = "deployment name")
    String name;

    @Override
    int run(ApiClient api) throws Exception {
      ApiClient.Response r = api.post("/api/v1/deployments/" + name + "/reconcile", null);
      if (!r.ok()) {
        return failure(r);
      }
      Object id = r.body().get("rolloutId");
      out()
          .println(
              id == null
                  ? String.valueOf(r.body().get("message"))
                  : "rollout " + id + ": " + r.body().get("message"));
      return ExitCodes.OK;
    }
  }

  /** Suspend and resume: one POST each, the same answer. */
  abstract static class Toggle extends ApiCommand {
    @Parameters(index = "0", description = "deployment name")
    String name;

    abstract String verb();

    /** What the command prints once done ("suspended"). */
    abstract String done();

    @Override
    int run(ApiClient api) throws Exception {
      ApiClient.Response r = api.post("/api/v1/deployments/" + name + "/" + verb(), null);
      if (!r.ok()) {
        return failure(r);
      }
      Object more = r.body().get("message");
      out().println(name + " " + done() + (more == null ? "" : ": " + more));
      return ExitCodes.OK;
    }
  }

  @Command(name = "suspend", description = "Observe and report only: change nothing that runs.")
  static class Suspend extends Toggle {
    @Override
    String verb() {
      return "suspend";
    }

    @Override
    String done() {
      return "suspended";
    }
  }

  @Command(name = "resume", description = "Resume a suspended deployment.")
  static class Resume extends Toggle {
    @Override
    String verb() {
      return "resume";
    }

    @Override
    String done() {
      return "resumed";
    }
  }
}
