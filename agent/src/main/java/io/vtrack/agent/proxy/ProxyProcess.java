package io.vtrack.agent.proxy;

import io.vtrack.agent.runtime.CommandRunner;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

/** How the switch proxy's process is started: its command line and class-data archive. */
final class ProxyProcess {
  private ProxyProcess() {}

  /**
   * Starts {@code vtrack proxy} on {@code stateDir} with the agent's own Java and class path, in
   * its own session (it outlives the agent), its output appended to {@code proxy/proxy.log},
   * reading the agent's API token from {@code tokenFile} (where agent.yaml's {@code auth.tokenFile}
   * puts it). The class path is made absolute: the proxy runs in {@code proxy/}, and an agent
   * started as {@code java -jar vtrack-agent.jar} from the jar's folder has a relative one.
   */
  static Process start(Path stateDir, Path tokenFile) throws IOException {
    Path dir = stateDir.resolve("proxy");
    Files.createDirectories(dir);
    String java =
        ProcessHandle.current()
            .info()
            .command()
            .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    List<String> cmd = new ArrayList<>();
    cmd.add(CommandRunner.setsid());
    cmd.add(java);
    cmd.add("-XX:+UseSerialGC");
    cmd.add("-Xss512k");
    String classPath = absolute(System.getProperty("java.class.path"));
    Path archive = proxyArchive(classPath);
    if (archive != null) {
      // The classes a proxy loads until it serves, mapped instead of loaded: back sooner.
      cmd.add("-XX:SharedArchiveFile=" + archive);
      cmd.add("-Xlog:cds=off");
      cmd.add("-Xlog:cds+dynamic=off");
    }
    cmd.add("-cp");
    cmd.add(classPath);
    cmd.add("io.vtrack.agent.cli.VtrackCli");
    cmd.add("proxy");
    cmd.add("--state-dir");
    cmd.add(stateDir.toString());
    cmd.add("--token-file");
    cmd.add(tokenFile.toAbsolutePath().toString());
    ProcessBuilder pb =
        new ProcessBuilder(cmd)
            .directory(dir.toFile())
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("proxy.log").toFile()))
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
    pb.environment().put("VTRACK_STATE_DIR", stateDir.toString());
    return pb.start();
  }

  /** Every entry of a class path made absolute (against the agent's working directory). */
  static String absolute(String classPath) {
    return Arrays.stream(classPath.split(File.pathSeparator, -1))
        .map(e -> Path.of(e).toAbsolutePath().toString())
        .collect(Collectors.joining(File.pathSeparator));
  }

  /**
   * Where a package keeps the proxy's archive it made with the host's Java (its vtrack wrapper
   * names it).
   */
  static final String ARCHIVE_PROPERTY = "vtrack.proxyArchive";

  /**
   * The proxy's class-data archive: the one named by {@code -Dvtrack.proxyArchive} (the Debian
   * package's, made by its postinst), else the one the build dumps beside the agent's jar ({@code
   * vtrack-proxy.jsa}), or null (none, or the agent runs from classes). One made for another jar or
   * Java is ignored by the JVM, quietly.
   */
  static Path proxyArchive(String classPath) {
    Path jar = io.vtrack.agent.JarWatch.singleJar(classPath);
    if (jar == null) {
      return null;
    }
    String named = System.getProperty(ARCHIVE_PROPERTY, "");
    Path archive = named.isBlank() ? jar.resolveSibling("vtrack-proxy.jsa") : Path.of(named);
    return Files.isRegularFile(archive) ? archive : null;
  }
}
