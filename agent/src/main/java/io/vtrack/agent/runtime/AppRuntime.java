package io.vtrack.agent.runtime;

import io.vtrack.agent.model.RuntimeSpec;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Runs one revision of a deployment on this host: plain processes, or (later) a compose project.
 * The reconciler and the rollout steps only talk to this interface. Every method but {@link
 * #unexpectedExits} blocks: call them from a worker.
 */
public interface AppRuntime {
  /** What runs for one service right now. */
  record ServiceState(String service, String commit, long pid, boolean alive, Integer exitCode) {}

  /** Starts every service of {@code commit} from its release; output goes to {@code logsDir}. */
  void start(
      String deployment,
      String commit,
      Path releaseDir,
      RuntimeSpec spec,
      Path logsDir,
      Map<String, String> env)
      throws Exception;

  /** Stops and starts again the named services of {@code commit} (self-heal). */
  void restart(
      String deployment,
      String commit,
      Path releaseDir,
      RuntimeSpec spec,
      List<String> services,
      Path logsDir,
      Map<String, String> env)
      throws Exception;

  /**
   * Stops everything of a deployment, whatever revision it is; {@code spec} gives stop signals and
   * timeouts (null: defaults).
   */
  void stopAll(String deployment, RuntimeSpec spec) throws Exception;

  /** The state of each service of a deployment. */
  Map<String, ServiceState> observe(String deployment) throws Exception;

  /**
   * Services that exited without being asked to since they were started, described. In memory: safe
   * on the event loop.
   */
  List<String> unexpectedExits(String deployment);

  /** Resident memory of a service in bytes, or -1 when it does not run. */
  long residentBytes(String deployment, String service) throws Exception;
}
