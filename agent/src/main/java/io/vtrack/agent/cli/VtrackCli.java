package io.vtrack.agent.cli;

import io.vertx.core.Vertx;
import io.vtrack.agent.Agent;
import io.vtrack.agent.config.AgentConfig;
import io.vtrack.agent.config.AgentConfigLoader;
import io.vtrack.agent.model.SpecError;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import tools.jackson.databind.SerializationFeature;
import tools.jackson.databind.json.JsonMapper;

/** {@code vtrack}: the daemon and the commands that talk to its API (DESIGN.md §4). */
@Command(
    name = "vtrack",
    mixinStandardHelpOptions = true,
    version = "vtrack 0.1.0",
    description = "Health-gated deployments with data-aware rollback.",
    subcommands = {
      VtrackCli.Run.class,
      VtrackCli.Proxy.class,
      VtrackCli.Status.class,
      VtrackCli.History.class,
      VtrackCli.Rollback.class,
      VtrackCli.Reconcile.class,
      VtrackCli.Validate.class,
      VtrackCli.Plan.class,
      VtrackCli.Diff.class,
      VtrackCli.Suspend.class,
      VtrackCli.Resume.class,
      Watch.class
    })
public final class VtrackCli implements Runnable {
  static final JsonMapper PRETTY =
      JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "a command is required");
  }

  public static void main(String[] args) {
    System.exit(execute(args));
  }

  public static int execute(String... args) {
    return commandLine().execute(args);
  }

  /** The configured command line: usage errors exit 2, other failures 1 (DESIGN.md §4). */
  public static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new VtrackCli());
    cl.setExitCodeExceptionMapper(
        e -> e instanceof CommandLine.ParameterException ? ExitCodes.USAGE : ExitCodes.FAILED);
    return cl;
  }

  /** Options shared by the commands that call the API. */
  static class ClientOptions {
    @Option(
        names = "--server",
        description =
            "API base URL (default: from --config, $VTRACK_SERVER, or http://127.0.0.1:8787)")
    String server;

    @Option(
        names = "--token-file",
        description = "file holding the API token (default: from --config or $VTRACK_TOKEN_FILE)")
    Path tokenFile;

    @Option(
        names = {"-c", "--config"},
        description = "agent.yaml to take the address and token from")
    Path config;

    ApiClient client() throws Exception {
      String url = server != null ? server : System.getenv("VTRACK_SERVER");
      Path tf = tokenFile;
      if (tf == null && System.getenv("VTRACK_TOKEN_FILE") != null) {
        tf = Path.of(System.getenv("VTRACK_TOKEN_FILE"));
      }
      Path cfgPath = config;
      if (cfgPath == null && Files.exists(Path.of("agent.yaml"))) {
        cfgPath = Path.of("agent.yaml");
      }
      AgentConfig cfg = cfgPath == null ? AgentConfig.defaults() : AgentConfigLoader.load(cfgPath);
      if (url == null) {
        String host = cfg.host().equals("0.0.0.0") ? "127.0.0.1" : cfg.host();
        url = "http://" + host + ":" + cfg.port();
      }
      if (tf == null) {
        tf = cfg.tokenPath();
      }
      String token = System.getenv("VTRACK_TOKEN");
      if (token == null && Files.isReadable(tf)) {
        token = Files.readString(tf).trim();
      }
      return new ApiClient(url, token);
    }
  }

  /** Runs an API command, mapping failures to the exit codes. */
  abstract static class ApiCommand implements java.util.concurrent.Callable<Integer> {
    @CommandLine.Mixin ClientOptions client;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    PrintWriter out() {
      return spec.commandLine().getOut();
    }

    PrintWriter err() {
      return spec.commandLine().getErr();
    }

    @Override
    public Integer call() {
      try {
        return run(client.client());
      } catch (ApiClient.UnreachableException e) {
        err().println("error: " + e.getMessage());
        return ExitCodes.UNREACHABLE;
      } catch (Exception e) {
        err().println("error: " + e.getMessage());
        return ExitCodes.FAILED;
      }
    }

    abstract int run(ApiClient api) throws Exception;

    /**
     * Ends the command when the answer is an error (its exit code) or JSON was asked for (printed
     * whole); returns null when the caller renders the answer itself.
     */
    Integer errorOrJson(ApiClient.Response r, String output) throws Exception {
      if (!r.ok()) {
        return failure(r);
      }
      if ("json".equals(output)) {
        out().println(PRETTY.writeValueAsString(r.body()));
        return ExitCodes.OK;
      }
      return null;
    }

    int failure(ApiClient.Response r) {
      err().println("error: " + r.errorMessage());
      return r.status() == 404 ? ExitCodes.NOT_FOUND : ExitCodes.FAILED;
    }
  }

  @Command(name = "run", description = "Run the agent daemon.")
  static class Run implements java.util.concurrent.Callable<Integer> {
    @Option(
        names = {"-c", "--config"},
        description = "agent.yaml (default: built-in defaults)")
    Path config;

    @Override
    public Integer call() throws Exception {
      AgentConfig cfg;
      try {
        cfg = config == null ? AgentConfig.defaults() : AgentConfigLoader.load(config);
      } catch (AgentConfigLoader.InvalidConfigException e) {
        System.err.println("error: " + e.getMessage());
        return ExitCodes.FAILED;
      }
      io.vtrack.agent.LogSetup.apply(cfg.logFormat());
      Path base =
          config == null ? Path.of(".").toAbsolutePath() : config.toAbsolutePath().getParent();
      Vertx vertx = Vertx.vertx(Agent.vertxOptions());
      Agent agent = new Agent(cfg, base);
      CountDownLatch stopped = new CountDownLatch(1);
      try {
        vertx.deployVerticle(agent).await();
      } catch (Exception e) {
        System.err.println("error: agent failed to start: " + e.getMessage());
        vertx.close();
        return ExitCodes.FAILED;
      }
      Runtime.getRuntime()
          .addShutdownHook(
              new Thread(
                  () -> {
                    // The app keeps running: only the agent stops (a deletion being applied
                    // may finish first: Agent.DELETION_GRACE).
                    try {
                      vertx.close().await(25, TimeUnit.SECONDS);
                    } catch (Exception ignored) {
                      // Exiting anyway.
                    }
                    stopped.countDown();
                  },
                  "vtrack-shutdown"));
      stopped.await();
      return ExitCodes.OK;
    }
  }

  @Command(
      name = "proxy",
      description =
          "Run the switch proxy of blue-green deployments (the agent starts it; a DaemonSet runs"
              + " it as a sidecar).")
  static class Proxy implements java.util.concurrent.Callable<Integer> {
    @Option(names = "--state-dir", required = true, description = "the agent's stateDir")
    Path stateDir;

    @Option(
        names = "--token-file",
        description = "the agent's API token (default: <state-dir>/api-token)")
    Path tokenFile;

    @Option(
        names = "--admin-listen",
        description = "host:port of the admin API (default: 127.0.0.1:0, any free port)")
    String adminListen = "127.0.0.1:0";

    @Option(
        names = "--exit-when-ready",
        hidden = true,
        description =
            "serve a throwaway route in the state folder, answer requests through it, then stop"
                + " (the build trains the proxy's class-data archive so)")
    boolean exitWhenReady;

    @Override
    public Integer call() throws Exception {
      Path token = tokenFile != null ? tokenFile : stateDir.resolve("api-token");
      // epoll where Netty has it (Linux x86-64): fewer copies and system calls per request.
      try {
        io.vtrack.agent.Agent.nativeLibraryFolder(stateDir.toAbsolutePath());
      } catch (java.io.IOException e) {
        // Netty tries /tmp and falls back to Java NIO.
      }
      Vertx vertx = Vertx.vertx(Agent.vertxOptions().setPreferNativeTransport(true));
      int training =
          exitWhenReady ? io.vtrack.agent.proxy.ProxyTraining.prepare(vertx, stateDir) : 0;
      try {
        vertx
            .deployVerticle(
                new io.vtrack.agent.proxy.SwitchProxy(
                    stateDir.toAbsolutePath(),
                    io.vtrack.agent.proxy.SwitchProxy.readToken(token),
                    adminListen))
            .await();
      } catch (Exception e) {
        System.err.println("error: the switch proxy failed to start: " + e.getMessage());
        vertx.close();
        return ExitCodes.FAILED;
      }
      if (exitWhenReady) {
        io.vtrack.agent.proxy.ProxyTraining.exercise(training);
        vertx.close().await(10, TimeUnit.SECONDS);
        return ExitCodes.OK;
      }
      CountDownLatch stopped = new CountDownLatch(1);
      Runtime.getRuntime()
          .addShutdownHook(
              new Thread(
                  () -> {
                    try {
                      vertx.close().await(10, TimeUnit.SECONDS);
                    } catch (Exception ignored) {
                      // Exiting anyway.
                    }
                    stopped.countDown();
                  },
                  "vtrack-proxy-shutdown"));
      stopped.await();
      return ExitCodes.OK;
    }
  }

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
              short7(st.get("desiredCommit")),
              short7(st.get("currentCommit")),
              short7(st.get("lastHealthyCommit")),
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
            short7(i.get("from")),
            short7(i.get("to")),
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

  @Command(name = "rollback", description = "Quarantine what runs and deploy a verified commit.")
  static class Rollback extends ApiCommand {
    @Parameters(index = "0", description = "deployment name")
    String name;

    @Option(
        names = "--to",
        description = "a commit verified healthy here (default: the previous one)")
    String to;

    @Option(
        names = "--restore-data",
        description = "restore the data backup taken before the current commit")
    boolean restoreData;

    @Override
    int run(ApiClient api) throws Exception {
      Map<String, Object> body = new LinkedHashMap<>();
      if (to != null) {
        body.put("to", to);
      }
      body.put("restoreData", restoreData);
      ApiClient.Response r = api.post("/api/v1/deployments/" + name + "/rollback", body);
      if (!r.ok()) {
        return failure(r);
      }
      out().println("rollback started: rollout " + r.body().get("rolloutId"));
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

  @Command(name = "plan", description = "Say what the agent would do now, without doing it.")
  static class Plan extends ApiCommand {
    @Parameters(index = "0", description = "deployment name")
    String name;

    @Option(
        names = {"-o", "--output"},
        description = "text (default) or json")
    String output = "text";

    @Override
    @SuppressWarnings("unchecked")
    int run(ApiClient api) throws Exception {
      ApiClient.Response r = api.get("/api/v1/deployments/" + name + "/plan");
      Integer done = errorOrJson(r, output);
      if (done != null) {
        return done;
      }
      Map<String, Object> p = r.body();
      out().println("Deployment:   " + name);
      out().println("Revision:     " + p.get("revision") + " -> " + nz(p.get("desiredCommit")));
      out().println("Current:      " + nz(p.get("currentCommit")));
      out().println("Last healthy: " + nz(p.get("lastHealthyCommit")));
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
      return ExitCodes.OK;
    }
  }

  @Command(
      name = "diff",
      description = "Spec changes and commit log between what runs and what is desired.")
  static class Diff extends ApiCommand {
    @Parameters(index = "0", description = "deployment name")
    String name;

    @Option(
        names = {"-o", "--output"},
        description = "text (default) or json")
    String output = "text";

    @Override
    @SuppressWarnings("unchecked")
    int run(ApiClient api) throws Exception {
      ApiClient.Response r = api.get("/api/v1/deployments/" + name + "/diff");
      Integer done = errorOrJson(r, output);
      if (done != null) {
        return done;
      }
      Map<String, Object> d = r.body();
      out()
          .println(
              "running "
                  + short7(d.get("currentCommit"))
                  + ", desired "
                  + d.get("desiredRevision")
                  + " "
                  + short7(d.get("desiredCommit")));
      List<Map<String, Object>> changes = (List<Map<String, Object>>) d.get("specChanges");
      out().println(changes.isEmpty() ? "spec: no changes" : "spec changes:");
      for (Map<String, Object> c : changes) {
        out().println("  " + c.get("path") + ": " + c.get("running") + " -> " + c.get("desired"));
      }
      List<Map<String, Object>> commits =
          (List<Map<String, Object>>) d.getOrDefault("commits", List.of());
      out().println(commits.isEmpty() ? "commits: none to deploy" : "commits to deploy:");
      for (Map<String, Object> c : commits) {
        out()
            .println(
                "  + "
                    + short7(c.get("sha"))
                    + " "
                    + c.get("subject")
                    + " ("
                    + c.get("author")
                    + ")");
      }
      for (Map<String, Object> c :
          (List<Map<String, Object>>) d.getOrDefault("commitsLeaving", List.of())) {
        out()
            .println(
                "  - "
                    + short7(c.get("sha"))
                    + " "
                    + c.get("subject")
                    + " ("
                    + c.get("author")
                    + ")");
      }
      return ExitCodes.OK;
    }
  }

  /** Suspend and resume: one POST each, the same answer. */
  abstract static class Toggle extends ApiCommand {
    @Parameters(index = "0", description = "deployment name")
    String name;

    abstract String verb();

    @Override
    int run(ApiClient api) throws Exception {
      ApiClient.Response r = api.post("/api/v1/deployments/" + name + "/" + verb(), null);
      if (!r.ok()) {
        return failure(r);
      }
      out().println(name + " " + verb() + "d");
      return ExitCodes.OK;
    }
  }

  @Command(name = "suspend", description = "Observe and report only: change nothing that runs.")
  static class Suspend extends Toggle {
    @Override
    String verb() {
      return "suspend";
    }
  }

  @Command(name = "resume", description = "Resume a suspended deployment.")
  static class Resume extends Toggle {
    @Override
    String verb() {
      return "resume";
    }
  }

  static Object nz(Object o) {
    return o == null ? "-" : o;
  }

  @Command(name = "validate", description = "Lint desired-state documents (no agent needed).")
  static class Validate implements java.util.concurrent.Callable<Integer> {
    @Parameters(arity = "1..*", description = "YAML files")
    List<String> files = new ArrayList<>();

    @Option(
        names = "--git-sourced",
        description = "allow an omitted spec.source.repoURL (documents kept in the app's repo)")
    boolean gitSourced;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      PrintWriter err = spec.commandLine().getErr();
      boolean ok = true;
      for (String name : files) {
        String shown = name.replace("\0", "\\0");
        byte[] bytes;
        try {
          Path f = Path.of(name);
          if (!Files.isRegularFile(f)) {
            err.println(shown + (Files.exists(f) ? ": not a regular file" : ": no such file"));
            ok = false;
            continue;
          }
          if (Files.size(f) > io.vtrack.agent.source.DocumentReader.MAX_FILE_BYTES) {
            err.println(
                shown + ": " + io.vtrack.agent.source.DocumentReader.tooLarge(Files.size(f)));
            ok = false;
            continue;
          }
          bytes = Files.readAllBytes(f);
        } catch (java.nio.file.InvalidPathException e) {
          err.println(shown + ": not a valid path (" + e.getReason() + ")");
          ok = false;
          continue;
        } catch (java.io.IOException e) {
          err.println(shown + ": cannot read: " + e.getMessage());
          ok = false;
          continue;
        }
        var where =
            new io.vtrack.agent.source.SourceRef("file", "cli", null, name, null, null, null, null);
        var docs =
            io.vtrack.agent.source.DocumentReader.read(
                bytes, where, gitSourced ? "git-sourced" : null);
        for (var d : docs) {
          int line = d.source().line() == null ? 1 : d.source().line();
          if (d.valid()) {
            out.println(name + ":" + line + ": " + d.name() + ": valid");
          } else {
            ok = false;
            for (SpecError e : d.errors()) {
              err.println(
                  name
                      + ":"
                      + (e.line() == null ? line : e.line())
                      + ": "
                      + (d.name() == null ? "" : d.name() + ": ")
                      + (e.field() == null || e.field().isEmpty() ? "" : e.field() + ": ")
                      + e.message());
            }
          }
        }
      }
      return ok ? ExitCodes.OK : ExitCodes.FAILED;
    }
  }

  static String short7(Object c) {
    return io.vtrack.agent.model.Commits.short7(c == null ? null : c.toString());
  }
}
