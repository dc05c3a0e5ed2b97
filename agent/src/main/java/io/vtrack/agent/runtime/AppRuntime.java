package io.vtrack.agent.runtime;

import io.vtrack.agent.model.RuntimeSpec;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Runs one revision of a deployment on this host: plain processes or a compose project. The
 * reconciler and the rollout steps only talk to this interface. Every method but {@link
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

  /**
   * Brings the named services of {@code commit} back after they went down (self-heal): what of them
   * is down starts again; a replica of a scaled compose service that still runs is left.
   */
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
   * timeouts (null: defaults). Returns what is worth telling about the stop (a service killed after
   * its timeout, …), or "" when there is nothing to say.
   */
  String stopAll(String deployment, RuntimeSpec spec) throws Exception;

  /**
   * {@link #stopAll} before {@link #start} of the same deployment with {@code next} (a recreate
   * rollout, a rollback, a restart). A compose project that {@code next} runs again keeps its
   * containers, stopped: {@code up} recreates them with their anonymous volumes.
   */
  default String stopForReplacement(String deployment, RuntimeSpec spec, RuntimeSpec next)
      throws Exception {
    return stopAll(deployment, spec);
  }

  /** The state of each service of a deployment. */
  Map<String, ServiceState> observe(String deployment) throws Exception;

  /**
   * Services that exited without being asked to since they were started, described. In memory: safe
   * on the event loop.
   */
  List<String> unexpectedExits(String deployment);

  /** Resident memory of a service in bytes, or -1 when it does not run. */
  long residentBytes(String deployment, String service) throws Exception;

  /**
   * Builds what a release needs before anything running is touched (compose: the images, tagged per
   * commit); returns what it did. Processes need nothing. {@code stopper} stops it early (its
   * rollout was rolled back).
   */
  default String build(
      String deployment,
      String commit,
      Path releaseDir,
      RuntimeSpec spec,
      Map<String, String> env,
      CommandRunner.Stopper stopper)
      throws Exception {
    return null;
  }

  /**
   * Why two instances of a release cannot run side by side (blue-green, a preview), or null:
   * processes get their ports from {@code ${port:NAME}}; compose containers with a fixed name
   * cannot be created twice. After {@link #build}.
   */
  default String sideBySideProblem(String deployment, RuntimeSpec spec, Path releaseDir)
      throws Exception {
    return null;
  }

  /** The services a release runs: the spec's for processes, the compose files' for compose. */
  default List<String> services(String deployment, RuntimeSpec spec, Path releaseDir)
      throws Exception {
    return spec.services().stream().map(RuntimeSpec.ServiceSpec::name).toList();
  }

  /** The last output of a service, for the message of a rollout it failed. */
  default String lastOutput(String deployment, String service, Path logsDir) {
    return LogFiles.tail(logsDir.resolve(service + ".log"), 600);
  }

  /**
   * Whether what the runtime depends on (the Docker Engine) answers now; a failure while it does
   * not is the host's, not the commit's. Processes need nothing.
   */
  default boolean reachable() {
    return true;
  }

  /** Releases of these commits were pruned: drop what the runtime kept for them (images). */
  default void pruned(String deployment, RuntimeSpec spec, List<String> commits) {}

  /**
   * Where a log check that names a service reads its output, or null for {@code
   * logs/<service>.log}.
   */
  default LogSource serviceLog(String deployment, String service) {
    return null;
  }
}
