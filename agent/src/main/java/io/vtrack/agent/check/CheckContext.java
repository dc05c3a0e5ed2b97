package io.vtrack.agent.check;

import io.vtrack.agent.release.DeploymentPaths;
import java.nio.file.Path;
import java.util.Map;

/**
 * What a check needs to know about the revision it checks.
 *
 * @param verifying true during a rollout's verification, false once the revision is Healthy
 * @param ports the loopback port of each service in the instance checked (blue-green)
 * @param logsDir where the instance's services write their output
 */
public record CheckContext(
    String deployment,
    String commit,
    String revision,
    Path releaseDir,
    DeploymentPaths paths,
    boolean verifying,
    Map<String, Integer> ports,
    Path logsDir) {

  public CheckContext(
      String deployment,
      String commit,
      String revision,
      Path releaseDir,
      DeploymentPaths paths,
      boolean verifying) {
    this(deployment, commit, revision, releaseDir, paths, verifying, Map.of(), paths.logs());
  }
}
