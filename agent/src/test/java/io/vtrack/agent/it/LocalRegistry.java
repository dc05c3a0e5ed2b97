package io.vtrack.agent.it;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real image registry on 127.0.0.1 (Debian's docker-registry, installed by
 * scripts/docker-setup.sh), its storage in a temporary folder, and a tiny image to push to it (a
 * static busybox): what a compose service pulls from, and what goes away to test a registry that
 * cannot be reached. The Docker Engine treats registries on 127.0.0.0/8 as plain HTTP.
 */
final class LocalRegistry implements AutoCloseable {
  final int port = TestApp.freePort();
  private final Path dir;
  private Process process;

  /** A registry keeping its configuration and storage in {@code dir} (a test's temporary one). */
  LocalRegistry(Path dir) throws IOException {
    this.dir = Files.createDirectories(dir);
  }

  /** {@code 127.0.0.1:PORT/name:tag}. */
  String image(String name, String tag) {
    return "127.0.0.1:" + port + "/" + name + ":" + tag;
  }

  void start() throws Exception {
    Path config = dir.resolve("config.yml");
    Files.writeString(
        config,
        "version: 0.1\nlog: {level: warn}\nstorage:\n  filesystem: {rootdirectory: "
            + dir.resolve("data")
            + "}\nhttp:\n  addr: 127.0.0.1:"
            + port
            + "\n");
    process =
        new ProcessBuilder("docker-registry", "serve", config.toString())
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("registry.log").toFile())
            .start();
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(100))
        .ignoreExceptions()
        .until(
            () -> {
              var c =
                  (HttpURLConnection)
                      URI.create("http://127.0.0.1:" + port + "/v2/").toURL().openConnection();
              return c.getResponseCode() == 200;
            });
  }

  void stop() throws InterruptedException {
    if (process != null) {
      process.destroy();
      process.waitFor(10, TimeUnit.SECONDS);
      process.destroyForcibly();
      process = null;
    }
  }

  /**
   * Builds a tiny image (busybox as its entrypoint) as {@code image}, pushes it here and removes it
   * from the host again, so that a deployment must pull it.
   */
  void pushTiny(String image) throws Exception {
    Path ctx = Files.createTempDirectory(dir, "image");
    Files.copy(Path.of("/bin/busybox"), ctx.resolve("busybox"));
    Files.writeString(
        ctx.resolve("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nENTRYPOINT [\"/bin/busybox\"]\n");
    docker("build", "-q", "-t", image, ctx.toString());
    docker("push", image);
    docker("rmi", image);
  }

  static void docker(String... args) throws Exception {
    DebPackageIT.Run r = AgentImageIT.docker(args);
    if (r.code() != 0) {
      throw new IOException("docker " + List.of(args) + " failed: " + r.output());
    }
  }

  @Override
  public void close() throws Exception {
    stop();
  }
}
