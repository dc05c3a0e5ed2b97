package io.vtrack.agent.it;

import static org.awaitility.Awaitility.await;

import com.github.dockerjava.api.DockerClient;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Restarts the Docker daemon that scripts/docker-setup.sh started (its pid is in
 * /var/run/docker.pid), the way the engine goes away under a running agent in production.
 */
final class DockerDaemon {
  /**
   * The lock of the IT classes that use the engine: ITs run two classes at a time, and one that
   * restarts or stops the engine must not do it under another's containers and builds.
   */
  static final String ENGINE = "docker-engine";

  private DockerDaemon() {}

  static void restart(DockerClient docker) throws Exception {
    stop();
    start(docker);
  }

  /** Stops the daemon: SIGTERM, then it stops its containers and exits. */
  static void stop() throws Exception {
    long pid = Long.parseLong(Files.readString(Path.of("/var/run/docker.pid")).strip());
    ProcessHandle h = ProcessHandle.of(pid).orElseThrow();
    h.destroy();
    h.onExit().get(2, TimeUnit.MINUTES);
  }

  /** Starts the daemon again, with {@code flags} added, and waits until it answers. */
  static void start(DockerClient docker, String... flags) throws Exception {
    java.util.List<String> argv =
        new java.util.ArrayList<>(
            java.util.List.of("setsid", "dockerd", "--bridge=none", "--iptables=false"));
    argv.addAll(java.util.List.of(flags));
    new ProcessBuilder(argv)
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(new File("/var/log/vtrack-dockerd.log")))
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
        .start();
    await()
        .atMost(Duration.ofMinutes(2))
        .pollInterval(Duration.ofMillis(250))
        .ignoreExceptions()
        .until(
            () -> {
              docker.pingCmd().exec();
              return true;
            });
  }
}
