package io.vtrack.agent.runtime;

import io.vtrack.agent.model.RuntimeSpec;
import io.vtrack.agent.model.RuntimeSpec.RuntimeType;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * The runtimes of this agent behind one {@link AppRuntime}: each call goes to the runtime of the
 * deployment's {@code spec.runtime.type}. Calls that carry a spec route by it (and remember it);
 * the others by what the deployment was last seen with. The compose runtime is made on first use,
 * so a host without Docker runs process deployments with nothing else installed.
 */
public final class Runtimes implements AppRuntime {
  /** Makes the compose runtime, or says why it cannot be had here. */
  public interface ComposeFactory {
    ComposeRuntime create() throws RuntimeUnavailableException;
  }

  /** The compose runtime cannot run on this host (no compose CLI, no engine). */
  public static final class RuntimeUnavailableException extends Exception {
    public RuntimeUnavailableException(String message) {
      super(message);
    }
  }

  private final ProcessRuntime process;
  private final ComposeFactory composeFactory;
  private final Map<String, RuntimeType> types = new ConcurrentHashMap<>();
  private volatile ComposeRuntime compose;
  private volatile String composeProblem;
  private long lastAttempt;
  private boolean connecting;
  private boolean closed;
  private static final long RETRY_NANOS = 10_000_000_000L;

  public Runtimes(ProcessRuntime process, ComposeFactory composeFactory) {
    this.process = process;
    this.composeFactory = composeFactory;
  }

  public ProcessRuntime process() {
    return process;
  }

  /** Notes the runtime type a deployment uses now; later calls without a spec route by it. */
  public void bind(String deployment, RuntimeSpec spec) {
    if (spec != null) {
      types.put(base(deployment), spec.type());
    }
  }

  /** The deployment of a runtime key ({@code name@blue} → {@code name}): one type for all. */
  private static String base(String deployment) {
    int at = deployment.indexOf('@');
    return at < 0 ? deployment : deployment.substring(0, at);
  }

  /**
   * Why {@code type} cannot run on this host, or null when it can. Every reconcile and status
   * refresh asks, so after a failure the compose runtime is tried again at most every {@link
   * #RETRY_NANOS} (Docker may be installed or started later), not on every call. The attempt (a
   * ping that may take its timeout) runs outside the lock: other callers are told that the agent is
   * connecting instead of waiting behind it.
   */
  public String unavailable(RuntimeType type) {
    if (type != RuntimeType.compose) {
      return null;
    }
    synchronized (this) {
      if (compose != null) {
        return null;
      }
      if (closed) {
        return "the agent is stopping";
      }
      long now = System.nanoTime();
      if (connecting) {
        return composeProblem != null ? composeProblem : "connecting to the Docker Engine";
      }
      if (composeProblem != null && now - lastAttempt < RETRY_NANOS) {
        return composeProblem;
      }
      lastAttempt = now;
      connecting = true;
    }
    ComposeRuntime made = null;
    String problem = null;
    try {
      made = composeFactory.create();
    } catch (RuntimeUnavailableException | RuntimeException e) {
      problem = e.getMessage();
    }
    synchronized (this) {
      connecting = false;
      if (!closed) {
        compose = made;
        composeProblem = problem;
        return problem;
      }
    }
    // Made while the agent stopped: its event stream would outlive the agent.
    if (made != null) {
      made.close();
    }
    return "the agent is stopping";
  }

  /**
   * Closes the compose runtime (its event stream), and one still being made when this is called;
   * none is made afterwards.
   */
  public void close() {
    ComposeRuntime made;
    synchronized (this) {
      closed = true;
      made = compose;
    }
    if (made != null) {
      made.close();
    }
  }

  /** The compose runtime if it was made. */
  public ComposeRuntime composeIfStarted() {
    return compose;
  }

  private AppRuntime of(RuntimeType type) throws RuntimeUnavailableException {
    if (type != RuntimeType.compose) {
      return process;
    }
    String problem = unavailable(type);
    if (problem != null) {
      throw new RuntimeUnavailableException(problem);
    }
    return compose;
  }

  private AppRuntime of(String deployment, RuntimeSpec spec) throws RuntimeUnavailableException {
    if (spec != null) {
      bind(deployment, spec);
      return of(spec.type());
    }
    return of(types.getOrDefault(base(deployment), RuntimeType.process));
  }

  /** For calls that must not fail: the runtime when it is there, else the process runtime. */
  private AppRuntime known(String deployment) {
    RuntimeType t = types.getOrDefault(base(deployment), RuntimeType.process);
    return t == RuntimeType.compose && compose != null ? compose : process;
  }

  @Override
  public void start(
      String deployment,
      String commit,
      Path releaseDir,
      RuntimeSpec spec,
      Path logsDir,
      Map<String, String> env)
      throws Exception {
    of(deployment, spec).start(deployment, commit, releaseDir, spec, logsDir, env);
  }

  @Override
  public void restart(
      String deployment,
      String commit,
      Path releaseDir,
      RuntimeSpec spec,
      List<String> services,
      Path logsDir,
      Map<String, String> env)
      throws Exception {
    of(deployment, spec).restart(deployment, commit, releaseDir, spec, services, logsDir, env);
  }

  @Override
  public String stopForReplacement(String deployment, RuntimeSpec spec, RuntimeSpec next)
      throws Exception {
    return spec == null
        ? stopAll(deployment, null)
        : of(deployment, spec).stopForReplacement(deployment, spec, next);
  }

  @Override
  public String stopAll(String deployment, RuntimeSpec spec) throws Exception {
    if (spec != null) {
      return of(deployment, spec).stopAll(deployment, spec);
    }
    // No spec (the document is gone or invalid): stop whatever runs for it, in either runtime.
    String said = process.stopAll(deployment, (RuntimeSpec) null);
    if (compose != null) {
      compose.stopAll(deployment, null);
    }
    return said;
  }

  @Override
  public Map<String, ServiceState> observe(String deployment) throws Exception {
    return of(deployment, null).observe(deployment);
  }

  @Override
  public List<String> unexpectedExits(String deployment) {
    return known(deployment).unexpectedExits(deployment);
  }

  @Override
  public long residentBytes(String deployment, String service) throws Exception {
    return of(deployment, null).residentBytes(deployment, service);
  }

  @Override
  public String build(
      String deployment,
      String commit,
      Path releaseDir,
      RuntimeSpec spec,
      Map<String, String> env,
      CommandRunner.Stopper stopper)
      throws Exception {
    return of(deployment, spec).build(deployment, commit, releaseDir, spec, env, stopper);
  }

  @Override
  public String sideBySideProblem(String deployment, RuntimeSpec spec, Path releaseDir)
      throws Exception {
    return of(deployment, spec).sideBySideProblem(deployment, spec, releaseDir);
  }

  @Override
  public List<String> services(String deployment, RuntimeSpec spec, Path releaseDir)
      throws Exception {
    return of(deployment, spec).services(deployment, spec, releaseDir);
  }

  @Override
  public void pruned(String deployment, RuntimeSpec spec, List<String> commits) {
    try {
      of(deployment, spec).pruned(deployment, spec, commits);
    } catch (RuntimeUnavailableException e) {
      // Nothing was kept for them here.
    }
  }

  @Override
  public String lastOutput(String deployment, String service, Path logsDir) {
    return known(deployment).lastOutput(deployment, service, logsDir);
  }

  @Override
  public LogSource serviceLog(String deployment, String service) {
    return known(deployment).serviceLog(deployment, service);
  }

  /** Whether the runtime of {@code spec} answers now (compose: the engine answers a ping). */
  public boolean reachable(RuntimeSpec spec) {
    try {
      return of(spec.type()).reachable();
    } catch (RuntimeUnavailableException e) {
      return false;
    }
  }

  /** Supplies nothing: for hosts and tests where compose is never wanted. */
  public static ComposeFactory noCompose(Supplier<String> why) {
    return () -> {
      throw new RuntimeUnavailableException(why.get());
    };
  }
}
