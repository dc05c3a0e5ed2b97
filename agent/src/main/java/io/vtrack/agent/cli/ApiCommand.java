package io.vtrack.agent.cli;

import io.vtrack.agent.config.AgentConfig;
import io.vtrack.agent.config.AgentConfigLoader;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Option;
import tools.jackson.databind.SerializationFeature;
import tools.jackson.databind.json.JsonMapper;

/** Runs an API command, mapping failures to the exit codes. */
abstract class ApiCommand implements Callable<Integer> {
  static final JsonMapper PRETTY =
      JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();

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
      } else if (!url.matches("https?://[^/\\s]+(/.*)?")) {
        throw new IllegalArgumentException(
            (server != null ? "--server" : "VTRACK_SERVER")
                + ": '"
                + url
                + "' is not an http(s) URL of the agent (e.g. http://127.0.0.1:8787)");
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
}
