package io.vtrack.agent.cli;

import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** The commands that read where a deployment stands: status, history, plan, diff. */
final class InspectCommands {
  private InspectCommands() {}

  @Command(name = "status", description = "Show where reconciliation stands.")
  static class Status extends ApiCommand {
    @Parameters(arity = "0..1", description = "deployment name (default: all)")
    String name;

    @Option(
        names = {"-o", "--output"},
        description = "table (default) or json")
    String output = "table";

    @Override
    @SuppressWarnings("unchecked")
    int run(ApiClient api) throws Exception {
      ApiClient.Response r =
          api.get(name == null ? "/api/v1/deployments" : "/api/v1/deployments/" + name);
      Integer done = errorOrJson(r, output);
      if (done != null) {
        return done;
      }
      if (name == null) {
        List<Map<String, Object>> items = (List<Map<String, Object>>) r.body().get("items");
        Table t =
            new Table("NAME", "PHASE", "REVISION", "DESIRED", "CURRENT", "LAST HEALTHY", "MESSAGE");
        for (Map<String, Object> d : items) {
          Map<String, Object> st = (Map<String, Object>) d.getOrDefault("status", Map.of());
          t.row(
              d.get("name"),
              st.get("phase"),
              st.get("desiredRevision"),
              Reports.short7(st.get("desiredCommit")),
              Reports.short7(st.get("currentCommit")),
              Reports.short7(st.get("lastHealthyCommit")),
              st.get("message"));
        }
        t.print(out());
        return ExitCodes.OK;
      }
      Reports.status(out(), r.body());
      return ExitCodes.OK;
    }
  }

  @Command(name = "history", description = "Show the rollouts of a deployment, newest first.")
  static class History extends ApiCommand {
    @Parameters(index = "0", description = "deployment name")
    String name;

    @Option(
        names = {"-o", "--output"},
        description = "table (default) or json")
    String output = "table";

    @Option(names = "--id", description = "show one rollout in full: the sign-off report")
    Long id;

    @Override
    @SuppressWarnings("unchecked")
    int run(ApiClient api) throws Exception {
      if (id != null) {
        // Any rollout still kept, however old: asked for by id, not searched in a page.
        ApiClient.Response one = api.get("/api/v1/deployments/" + name + "/history/" + id);
        if (!one.ok()) {
          return failure(one);
        }
        return printRollout(one.body());
      }
      ApiClient.Response r = api.get("/api/v1/deployments/" + name + "/history");
      if (!r.ok()) {
        return failure(r);
      }
      List<Map<String, Object>> items = (List<Map<String, Object>>) r.body().get("items");
      if ("json".equals(output)) {
        out().println(PRETTY.writeValueAsString(r.body()));
        return ExitCodes.OK;
      }
      Table t =
          new Table(
              "ID", "KIND", "FROM", "TO", "REVISION", "RESULT", "REASON", "STARTED", "DURATION");
      for (Map<String, Object> i : items) {
        t.row(
            i.get("id"),
            i.get("kind"),
            Reports.short7(i.get("from")),
            Reports.short7(i.get("to")),
            i.get("revision"),
            i.get("result") == null ? "(" + i.get("stage") + ")" : i.get("result"),
            i.get("reason"),
            i.get("startedAt"),
            i.get("durationMs") == null ? "" : i.get("durationMs") + "ms");
      }
      t.print(out());
      return ExitCodes.OK;
    }

    private int printRollout(Map<String, Object> one) throws Exception {
      if ("json".equals(output)) {
        out().println(PRETTY.writeValueAsString(one));
      } else if ("markdown".equals(output)) {
        Reports.markdown(out(), name, one);
      } else {
        Reports.rollout(out(), one);
      }
      return ExitCodes.OK;
    }
  }

  /** One resource of a deployment ({@code /api/v1/deployments/NAME/RESOURCE}) as text or JSON. */
  abstract static class DeploymentResource extends ApiCommand {
    @Parameters(index = "0", description = "deployment name")
    String name;

    @Option(
        names = {"-o", "--output"},
        description = "text (default) or json")
    String output = "text";

    abstract String resource();

    abstract void print(Map<String, Object> body);

    @Override
    int run(ApiClient api) throws Exception {
      ApiClient.Response r = api.get("/api/v1/deployments/" + name + "/" + resource());
      Integer done = errorOrJson(r, output);
      if (done != null) {
        return done;
      }
      print(r.body());
      return ExitCodes.OK;
    }
  }

  @Command(name = "plan", description = "Say what the agent would do now, without doing it.")
  static class Plan extends DeploymentResource {
    @Override
    String resource() {
      return "plan";
    }

    @Override
    @SuppressWarnings("unchecked")
    void print(Map<String, Object> p) {
      out().println("Deployment:   " + name);
      out()
          .println(
              "Revision:     " + p.get("revision") + " -> " + Reports.nz(p.get("desiredCommit")));
      out().println("Current:      " + Reports.nz(p.get("currentCommit")));
      out().println("Last healthy: " + Reports.nz(p.get("lastHealthyCommit")));
      out()
          .println(
              "Quarantined:  "
                  + p.get("quarantined")
                  + "    awaiting promotion: "
                  + p.get("awaitingPromotion"));
      if (p.get("problem") != null) {
        out().println("Problem:      " + p.get("problem"));
      }
      out().println("Action:       " + p.get("action"));
      for (Object step : (List<Object>) p.get("steps")) {
        out().println("  - " + step);
      }
      List<Object> backups = (List<Object>) p.get("backups");
      if (!backups.isEmpty()) {
        out().println("Backups:");
        backups.forEach(b -> out().println("  - " + b));
      }
      Map<String, Object> pending = (Map<String, Object>) p.get("pendingRollout");
      if (pending != null) {
        out().println("Once the hold lifts, rollout to " + pending.get("to") + ":");
        for (Object step : (List<Object>) pending.get("steps")) {
          out().println("  - " + step);
        }
        for (Object b : (List<Object>) pending.get("backups")) {
          out().println("  backup: " + b);
        }
      }
    }
  }

  @Command(
      name = "diff",
      description = "Spec changes and commit log between what runs and what is desired.")
  static class Diff extends DeploymentResource {
    @Override
    String resource() {
      return "diff";
    }

    @Override
    @SuppressWarnings("unchecked")
    void print(Map<String, Object> d) {
      out()
          .println(
              "running "
                  + Reports.short7(d.get("currentCommit"))
                  + ", desired "
                  + d.get("desiredRevision")
                  + " "
                  + Reports.short7(d.get("desiredCommit")));
      List<Map<String, Object>> changes = (List<Map<String, Object>>) d.get("specChanges");
      out().println(changes.isEmpty() ? "spec: no changes" : "spec changes:");
      for (Map<String, Object> c : changes) {
        out().println("  " + c.get("path") + ": " + c.get("running") + " -> " + c.get("desired"));
      }
      List<Map<String, Object>> commits =
          (List<Map<String, Object>>) d.getOrDefault("commits", List.of());
      out().println(commits.isEmpty() ? "commits: none to deploy" : "commits to deploy:");
      commits.forEach(c -> out().println("  + " + commitLine(c)));
      ((List<Map<String, Object>>) d.getOrDefault("commitsLeaving", List.of()))
          .forEach(c -> out().println("  - " + commitLine(c)));
    }

    private static String commitLine(Map<String, Object> c) {
      return Reports.short7(c.get("sha")) + " " + c.get("subject") + " (" + c.get("author") + ")";
    }
  }
}
