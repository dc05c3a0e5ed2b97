package io.vtrack.agent.config;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.vtrack.agent.model.Interval;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.List;

/** {@code agent.yaml} (DESIGN.md §4). Every field has a default that serves a single host. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record AgentConfig(
    String agentName,
    String stateDir,
    String listen,
    Auth auth,
    List<String> allowedCommands,
    List<SourceConfig> sources,
    Retention retention,
    Interval gitTimeout,
    List<String> allowedHosts,
    Proxy proxy,
    String logFormat) {
  public static final String DEFAULT_STATE_DIR = "/var/lib/vtrack";
  public static final String DEFAULT_LISTEN = "127.0.0.1:8787";

  public AgentConfig {
    if (agentName == null || agentName.isBlank()) {
      // In a DaemonSet, VTRACK_AGENT_NAME carries the node's name (the pod's host name is its own).
      String env = System.getenv("VTRACK_AGENT_NAME");
      agentName = env != null && !env.isBlank() ? env.strip() : hostName();
    }
    stateDir = stateDir == null || stateDir.isBlank() ? DEFAULT_STATE_DIR : stateDir;
    listen = listen == null || listen.isBlank() ? DEFAULT_LISTEN : listen;
    auth = auth == null ? new Auth(null) : auth;
    allowedCommands = allowedCommands == null ? List.of() : List.copyOf(allowedCommands);
    sources = sources == null ? List.of() : List.copyOf(sources);
    retention = retention == null ? new Retention(null, null) : retention;
    // A git remote that accepts a connection and never answers fails after this (connect, read).
    gitTimeout = gitTimeout == null ? Interval.parse("30s") : gitTimeout;
    // Host names the API answers to besides IP literals, localhost and the agent's name.
    allowedHosts = allowedHosts == null ? List.of() : List.copyOf(allowedHosts);
    proxy = proxy == null ? new Proxy(null) : proxy;
    // How the agent writes its log: lines of text, or one JSON object per line.
    logFormat = logFormat == null || logFormat.isBlank() ? "text" : logFormat;
  }

  public AgentConfig(
      String agentName,
      String stateDir,
      String listen,
      Auth auth,
      List<String> allowedCommands,
      List<SourceConfig> sources,
      Retention retention,
      Interval gitTimeout,
      List<String> allowedHosts) {
    this(
        agentName,
        stateDir,
        listen,
        auth,
        allowedCommands,
        sources,
        retention,
        gitTimeout,
        allowedHosts,
        null,
        null);
  }

  public AgentConfig(
      String agentName,
      String stateDir,
      String listen,
      Auth auth,
      List<String> allowedCommands,
      List<SourceConfig> sources) {
    this(agentName, stateDir, listen, auth, allowedCommands, sources, null, null, null, null, null);
  }

  public static AgentConfig defaults() {
    return new AgentConfig(null, null, null, null, null, null);
  }

  public Path statePath() {
    return Path.of(stateDir).toAbsolutePath().normalize();
  }

  public Path tokenPath() {
    return auth.tokenFile() == null
        ? statePath().resolve("api-token")
        : Path.of(auth.tokenFile()).toAbsolutePath();
  }

  public String host() {
    int colon = listen.lastIndexOf(':');
    return colon <= 0 ? "127.0.0.1" : listen.substring(0, colon);
  }

  public int port() {
    int colon = listen.lastIndexOf(':');
    return Integer.parseInt(colon < 0 ? listen : listen.substring(colon + 1));
  }

  private static String hostName() {
    String env = System.getenv("HOSTNAME");
    if (env != null && !env.isBlank()) {
      return env;
    }
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (Exception e) {
      return "localhost";
    }
  }

  public record Auth(String tokenFile) {}

  /**
   * The switch proxy of blue-green deployments: the agent starts and supervises it, unless {@code
   * external} (a sidecar container runs {@code vtrack proxy} on the same state folder).
   */
  public record Proxy(Boolean external) {
    public Proxy {
      external = external != null && external;
    }
  }

  /**
   * What the agent keeps per deployment: the newest {@code rollouts} finished rollouts with their
   * steps and check results (default 100) and ten times as many events, and the newest {@code
   * failedCopies} copies of the data as a failed rollout left it ({@code backups/<id>/failed/},
   * default 10).
   */
  public record Retention(Integer rollouts, Integer failedCopies) {
    public Retention {
      rollouts = rollouts == null ? 100 : rollouts;
      failedCopies = failedCopies == null ? 10 : failedCopies;
    }
  }

  /** One entry of {@code sources:}; exactly one of its fields is set. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record SourceConfig(
      GitSourceConfig git, KubernetesSourceConfig kubernetes, FileSourceConfig file) {}

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record GitSourceConfig(
      String repoURL, String branch, String path, Interval interval, String webhookSecretFile) {
    public GitSourceConfig {
      branch = branch == null || branch.isBlank() ? "main" : branch;
      path = path == null || path.isBlank() ? "." : path;
      interval = interval == null ? Interval.parse("30s") : interval;
    }
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record KubernetesSourceConfig(String namespace, String kubeconfig) {}

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record FileSourceConfig(String path, Interval interval) {
    public FileSourceConfig {
      interval = interval == null ? Interval.parse("2s") : interval;
    }
  }
}
