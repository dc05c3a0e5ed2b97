package io.vtrack.agent.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The agent starts the proxy with the build's archive only where there is one for its jar. */
class ProxyArchiveTest {
  @TempDir Path tmp;

  @Test
  void theArchiveBesideTheAgentsJarIsUsed() throws Exception {
    Path jar = Files.writeString(tmp.resolve("vtrack-agent.jar"), "jar");
    assertThat(ProxyProcess.proxyArchive(jar.toString())).isNull();
    Path archive = Files.writeString(tmp.resolve("vtrack-proxy.jsa"), "archive");
    assertThat(ProxyProcess.proxyArchive(jar.toString())).isEqualTo(archive);
  }

  @Test
  void thePackagesArchiveIsNamedByAProperty() throws Exception {
    Path jar = Files.writeString(tmp.resolve("vtrack-agent.jar"), "jar");
    Files.writeString(tmp.resolve("vtrack-proxy.jsa"), "archive beside the jar");
    Path cached = tmp.resolve("cache/proxy.jsa");
    System.setProperty(ProxyProcess.ARCHIVE_PROPERTY, cached.toString());
    try {
      // Named but not made (postinst could not): none, rather than one for another Java.
      assertThat(ProxyProcess.proxyArchive(jar.toString())).isNull();
      Files.createDirectories(cached.getParent());
      Files.writeString(cached, "archive");
      assertThat(ProxyProcess.proxyArchive(jar.toString())).isEqualTo(cached);
    } finally {
      System.clearProperty(ProxyProcess.ARCHIVE_PROPERTY);
    }
  }

  @Test
  void anAgentRunFromClassesHasNone() throws Exception {
    Files.writeString(tmp.resolve("vtrack-proxy.jsa"), "archive");
    assertThat(ProxyProcess.proxyArchive(tmp.resolve("classes").toString())).isNull();
    assertThat(
            ProxyProcess.proxyArchive(
                tmp.resolve("a.jar") + File.pathSeparator + tmp.resolve("b.jar")))
        .isNull();
    assertThat(ProxyProcess.proxyArchive(null)).isNull();
  }

  @Test
  void aRelativeClassPathIsMadeAbsoluteForTheProxyWhichRunsInItsOwnFolder() {
    Path cwd = Path.of("").toAbsolutePath();
    assertThat(ProxyProcess.absolute("vtrack-agent.jar")).isEqualTo(cwd + "/vtrack-agent.jar");
    assertThat(ProxyProcess.absolute("lib/a.jar" + File.pathSeparator + "/opt/b.jar"))
        .isEqualTo(cwd + "/lib/a.jar" + File.pathSeparator + "/opt/b.jar");
  }
}
