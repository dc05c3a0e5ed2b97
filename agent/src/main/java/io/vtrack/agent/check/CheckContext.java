package io.vtrack.agent.check;

import io.vtrack.agent.release.DeploymentPaths;
import java.nio.file.Path;

/**
 * What a check needs to know about the revision it checks.
 *
 * @param verifying true during a rollout's verification, false once the revision is Healthy
 */
public record CheckContext(
    String deployment,
    String commit,
    String revision,
    Path releaseDir,
    DeploymentPaths paths,
    boolean verifying) {}
