package io.vtrack.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.fail;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Debian package the build makes ({@code target/vtrack-agent_<version>_all.deb}), installed on
 * this machine with the real dpkg, as root: the command on the PATH, the configuration as a
 * conffile, the vtrack user owning the state folder, the agent running as that user on it; {@code
 * dpkg -r} keeps the state folder, {@code dpkg -P} removes it. With CI=true it may not skip.
 */
class DebPackageIT {
  static final Path DEB = Path.of("target", "vtrack-agent_0.1.0_all.deb").toAbsolutePath();

  @TempDir Path tmp;

  record Run(int code, String output) {}

  static Run run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    return new Run(p.waitFor(), out);
  }

  @BeforeAll
  static void rootWithDpkg() throws Exception {
    boolean root = "root".equals(System.getProperty("user.name"));
    boolean dpkg = Files.isExecutable(Path.of("/usr/bin/dpkg"));
    if (!root || !dpkg || !Files.exists(DEB)) {
      String why = "needs root, dpkg and " + DEB + " (mvn package)";
      if ("true".equals(System.getenv("CI"))) {
        fail("CI=true but the package cannot be tried: " + why);
      }
      Assumptions.abort(why);
    }
    purge();
  }

  @AfterAll
  static void purge() throws Exception {
    run("dpkg", "--purge", "vtrack-agent");
  }

  static PosixFileAttributes attrs(String path) throws Exception {
    return Files.readAttributes(
        Path.of(path), PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
  }

  @Test
  void installRunRemoveAndPurge() throws Exception {
    Run install = run("dpkg", "-i", DEB.toString());
    assertThat(install.code()).as(install.output()).isZero();

    // The CLI's class-data archive, made by postinst with this Java, is used without a word.
    assertThat(Path.of("/var/cache/vtrack/cli.jsa")).isRegularFile();
    // So is the switch proxy's: -Xshare:on refuses to start a JVM that cannot map it, and the
    // proxy serves a throwaway route through it as the vtrack user and exits.
    assertThat(Path.of("/var/cache/vtrack/proxy.jsa")).isRegularFile();
    Path training = tmp.resolve("proxy-state");
    Files.createDirectories(training);
    run("chown", "vtrack:vtrack", training.toString());
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
    Run mapped =
        run(
            "runuser",
            "-u",
            "vtrack",
            "--",
            "java",
            "-Xshare:on",
            "-XX:SharedArchiveFile=/var/cache/vtrack/proxy.jsa",
            "-XX:+UseSerialGC",
            "-Xss512k",
            "-jar",
            "/usr/share/vtrack/vtrack-agent.jar",
            "proxy",
            "--state-dir=" + training,
            "--token-file=/dev/null",
            "--exit-when-ready");
    assertThat(mapped.code()).as(mapped.output()).isZero();
    Run version = run("vtrack", "--version");
    assertThat(version.output().strip()).isEqualTo("vtrack 0.1.0");
    Run validate =
        run("vtrack", "validate", Path.of("..", "examples", "process", "vtrack.yaml").toString());
    assertThat(validate.code()).as(validate.output()).isZero();
    assertThat(validate.output()).contains("valid");

    // Files, owners and the conffile.
    assertThat(Path.of("/usr/share/vtrack/vtrack-agent.jar")).isRegularFile();
    assertThat(Path.of("/lib/systemd/system/vtrack-agent.service"))
        .content()
        .contains("KillMode=process")
        .contains("User=vtrack");
    assertThat(Path.of("/usr/share/bash-completion/completions/vtrack"))
        .content()
        .contains("complete");
    assertThat(run("getent", "passwd", "vtrack").code()).isZero();
    assertThat(attrs("/var/lib/vtrack").owner().getName()).isEqualTo("vtrack");
    assertThat(attrs("/etc/vtrack/agent.yaml").group().getName()).isEqualTo("vtrack");
    assertThat(PosixFilePermissions.toString(attrs("/etc/vtrack/agent.yaml").permissions()))
        .isEqualTo("rw-r-----");
    assertThat(run("dpkg-query", "-W", "-f=${Conffiles}", "vtrack-agent").output())
        .contains("/etc/vtrack/agent.yaml");

    // The agent runs as the vtrack user on the packaged state folder.
    int port = TestApp.freePort();
    Path config = tmp.resolve("agent.yaml");
    Files.writeString(
        config,
        Files.readString(Path.of("/etc/vtrack/agent.yaml"))
            .replace("listen: 127.0.0.1:8787", "listen: 127.0.0.1:" + port));
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.setPosixFilePermissions(config, PosixFilePermissions.fromString("rw-r--r--"));
    Process agent =
        new ProcessBuilder(
                "runuser", "-u", "vtrack", "--", "vtrack", "run", "--config", config.toString())
            .redirectErrorStream(true)
            .redirectOutput(tmp.resolve("agent.log").toFile())
            .start();
    try {
      // The agent the package runs starts its proxy with that archive.
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () ->
                  agent
                      .toHandle()
                      .descendants()
                      .anyMatch(
                          h ->
                              h.info()
                                  .commandLine()
                                  .orElse("")
                                  .contains("-Dvtrack.proxyArchive=/var/cache/vtrack/proxy.jsa")));
      HttpClient http = HttpClient.newHttpClient();
      try {
        await()
            .atMost(Duration.ofSeconds(60))
            .pollInterval(Duration.ofMillis(200))
            .ignoreExceptions()
            .until(
                () ->
                    http.send(
                                HttpRequest.newBuilder(
                                        URI.create("http://127.0.0.1:" + port + "/readyz"))
                                    .build(),
                                HttpResponse.BodyHandlers.ofString())
                            .statusCode()
                        == 200);
      } catch (org.awaitility.core.ConditionTimeoutException e) {
        // Refused connections say nothing of why: the agent's own log does.
        fail(
            "/readyz on port "
                + port
                + " did not answer 200 within 60 s; the agent "
                + (agent.isAlive() ? "still runs" : "exited with " + agent.exitValue())
                + "; its log:\n"
                + Files.readString(tmp.resolve("agent.log")),
            e);
      }
    } finally {
      agent.destroy();
      agent.waitFor();
    }
    assertThat(attrs("/var/lib/vtrack/api-token").owner().getName()).isEqualTo("vtrack");
    assertThat(attrs("/var/lib/vtrack/state.db").owner().getName()).isEqualTo("vtrack");

    // A local change to the configuration survives a reinstall.
    Files.writeString(
        Path.of("/etc/vtrack/agent.yaml"),
        "# edited here\n",
        java.nio.file.StandardOpenOption.APPEND);
    Run again = run("dpkg", "-i", "--force-confold", DEB.toString());
    assertThat(again.code()).as(again.output()).isZero();
    assertThat(Path.of("/etc/vtrack/agent.yaml")).content().contains("# edited here");

    // Remove: the program goes, the state folder (users' data) stays.
    Run remove = run("dpkg", "-r", "vtrack-agent");
    assertThat(remove.code()).as(remove.output()).isZero();
    assertThat(Path.of("/usr/bin/vtrack")).doesNotExist();
    assertThat(Path.of("/var/lib/vtrack/state.db")).exists();
    assertThat(Path.of("/var/cache/vtrack")).doesNotExist();

    // Purge: the state folder, the configuration and the user go too.
    Run purge = run("dpkg", "-P", "vtrack-agent");
    assertThat(purge.code()).as(purge.output()).isZero();
    assertThat(Path.of("/var/lib/vtrack")).doesNotExist();
    assertThat(Path.of("/etc/vtrack")).doesNotExist();
    List<String> left = new ArrayList<>();
    if (run("getent", "passwd", "vtrack").code() == 0) {
      left.add("user vtrack");
    }
    assertThat(left).isEmpty();
  }
}
