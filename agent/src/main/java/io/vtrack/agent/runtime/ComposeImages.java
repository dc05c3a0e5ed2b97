package io.vtrack.agent.runtime;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.exception.NotFoundException;
import io.vtrack.agent.model.RuntimeSpec;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A compose release's images: built per commit ({@link ComposeRuntime#imageFor}) and the missing
 * ones pulled in Preparing, before anything running is touched; removed with pruned releases.
 * Blocking: call it from a worker.
 */
final class ComposeImages {
  private static final Logger LOG = LoggerFactory.getLogger(ComposeImages.class);
  private static final Duration BUILD_TIMEOUT = Duration.ofMinutes(30);

  private final DockerClient docker;
  private final ComposeCli cli;
  private final ComposeFiles files;

  ComposeImages(DockerClient docker, ComposeCli cli, ComposeFiles files) {
    this.docker = docker;
    this.cli = cli;
    this.files = files;
  }

  /** Builds the release's images and pulls the missing ones; says what it did. */
  String build(
      String deployment,
      String commit,
      Path releaseDir,
      RuntimeSpec spec,
      Map<String, String> env,
      CommandRunner.Stopper stopper)
      throws IOException, ComposeConfigException {
    files.forget(releaseDir);
    ComposeFiles.Model m = files.model(deployment, releaseDir, spec, env);
    files.writeOverride(deployment, commit, releaseDir, spec, m, env);
    String pulled = pullMissing(deployment, releaseDir, spec, m, env, stopper);
    if (!m.buildsByService().containsValue(true)) {
      return "no service builds from the release" + pulled;
    }
    CommandRunner.Result r;
    try {
      r =
          files.run(
              deployment,
              releaseDir,
              spec,
              env,
              // v1's builder keeps the container of a step that failed (one per failed build, for
              // good); v2 builds with BuildKit, which leaves none.
              cli.version() == 1 ? List.of("build", "--force-rm") : List.of("build"),
              BUILD_TIMEOUT,
              stopper);
    } catch (IOException e) {
      // A base image that cannot be fetched because its registry is away is not the commit's, nor
      // a RUN step (npm ci, pip install) that could not reach the network.
      IOException registry = RegistryUnavailableException.classify(e);
      if (registry != e) {
        throw registry;
      }
      throw NetworkUnavailableException.in(
              e.getMessage(), "a build step could not reach the network")
          .map(IOException.class::cast)
          .orElse(e);
    }
    List<String> images = new ArrayList<>();
    m.buildsByService()
        .forEach(
            (svc, builds) -> {
              if (builds) {
                images.add(
                    ComposeRuntime.imageFor(
                        ComposeRuntime.baseProject(deployment, spec), svc, commit));
              }
            });
    return "built " + images + " in " + r.durationMs() + " ms" + pulled;
  }

  /**
   * Pulls the images of services that do not build and are not on this host yet, before anything
   * running is touched: an image that cannot be pulled fails Preparing (or is retried there while
   * its registry cannot be reached), and a recreate's gap is not a download. An image already here
   * is used as it is, as {@code up} would.
   */
  private String pullMissing(
      String deployment,
      Path releaseDir,
      RuntimeSpec spec,
      ComposeFiles.Model m,
      Map<String, String> env,
      CommandRunner.Stopper stopper)
      throws IOException {
    List<String> services = new ArrayList<>();
    List<String> images = new ArrayList<>();
    m.pulledImages()
        .forEach(
            (svc, image) -> {
              try {
                docker.inspectImageCmd(image).exec();
              } catch (NotFoundException e) {
                services.add(svc);
                images.add(image);
              }
            });
    if (services.isEmpty()) {
      return "";
    }
    List<String> args = new ArrayList<>(List.of("pull"));
    args.addAll(services);
    CommandRunner.Result r;
    try {
      r = files.run(deployment, releaseDir, spec, env, args, BUILD_TIMEOUT, stopper);
    } catch (IOException e) {
      throw RegistryUnavailableException.classify(
          new IOException("cannot pull " + images + " for " + services + ": " + e.getMessage()));
    }
    return "; pulled " + images + " in " + r.durationMs() + " ms";
  }

  /** Removes the per-commit images of pruned releases (an image a container still uses stays). */
  void pruned(String deployment, RuntimeSpec spec, List<String> commits) {
    String prefix =
        ("vtrack/" + ComposeRuntime.baseProject(deployment, spec) + "-").toLowerCase(Locale.ROOT);
    for (var image : docker.listImagesCmd().withReferenceFilter(prefix + "*").exec()) {
      if (image.getRepoTags() == null) {
        continue;
      }
      for (String tag : image.getRepoTags()) {
        String t = tag.substring(tag.lastIndexOf(':') + 1);
        if (tag.startsWith(prefix) && commits.contains(t)) {
          try {
            docker.removeImageCmd(tag).exec();
            LOG.info("{}: removed image {} of a pruned release", deployment, tag);
          } catch (RuntimeException e) {
            LOG.warn("{}: image {} kept: {}", deployment, tag, e.getMessage());
          }
        }
      }
    }
  }
}
