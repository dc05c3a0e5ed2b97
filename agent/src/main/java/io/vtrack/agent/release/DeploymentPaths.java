package io.vtrack.agent.release;

import java.nio.file.Path;

/**
 * The on-disk layout of one deployment under {@code <stateDir>/deployments/<name>/} (DESIGN.md §4).
 */
public record DeploymentPaths(Path root, Path stateDir) {
  public static DeploymentPaths of(Path stateDir, String deployment) {
    return new DeploymentPaths(stateDir.resolve("deployments").resolve(deployment), stateDir);
  }

  /**
   * The layout of a snapshot preview ({@code preview/<rollout-id>/}): its own {@code releases/},
   * {@code shared/} (the copy of the data) and {@code logs/}, inside the deployment's folder.
   */
  public DeploymentPaths preview(long rolloutId) {
    return new DeploymentPaths(previews().resolve(Long.toString(rolloutId)), stateDir);
  }

  public Path previews() {
    return root.resolve("preview");
  }

  /** The deployment's name (of a deployment's own layout, not a preview's). */
  public String name() {
    return root.getFileName().toString();
  }

  public Path releases() {
    return root.resolve("releases");
  }

  public Path release(String commit) {
    return releases().resolve(commit);
  }

  public Path shared() {
    return root.resolve("shared");
  }

  public Path backups() {
    return root.resolve("backups");
  }

  public Path backup(long rolloutId) {
    return backups().resolve(Long.toString(rolloutId));
  }

  public Path logs() {
    return root.resolve("logs");
  }
}
