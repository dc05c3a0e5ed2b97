package io.vtrack.agent.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** allowedCommands on path boundaries, resolved with the agent's PATH, never the document's. */
class CommandPolicyTest {
  @TempDir Path tmp;
  Path tools;
  Path release;
  CommandPolicy policy;

  private static Path script(Path file, String body) throws Exception {
    Files.createDirectories(file.getParent());
    Files.writeString(file, "#!/bin/sh\n" + body + "\n");
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
    return file;
  }

  @BeforeEach
  void setUp() throws Exception {
    tools = tmp.resolve("opt/tools");
    script(tools.resolve("ok"), "echo approved");
    script(tools.resolve("ok-evil"), "echo evil");
    script(tmp.resolve("opt/evil/ok"), "echo evil");
    release = tmp.resolve("release");
    script(release.resolve("bin/ok"), "echo planted");
    policy = new CommandPolicy(List.of("ok", tools + "/ok"), tools.toString());
  }

  @Test
  void aBareNameRunsAsTheAgentsPathFindsIt() throws Exception {
    assertThat(policy.approve(List.of("ok", "x"), release))
        .containsExactly(tools.resolve("ok").toString(), "x");
    // The approved argv runs that file even with a document PATH that points at the release.
    CommandRunner.Result r =
        CommandRunner.run(
            policy,
            List.of("ok"),
            release,
            Map.of("PATH", release.resolve("bin") + ":/usr/bin:/bin"),
            Duration.ofSeconds(10));
    assertThat(r.output()).contains("approved").doesNotContain("planted");
  }

  @Test
  void textPrefixesDoNotCount() {
    assertThatThrownBy(() -> policy.approve(List.of(tools + "/ok-evil"), release))
        .hasMessageContaining("does not allow");
  }

  @Test
  void dotDotOutOfAnAllowedFolderIsRefused() throws Exception {
    CommandPolicy dir = new CommandPolicy(List.of(tools + "/"), "/usr/bin:/bin");
    assertThatThrownBy(() -> dir.approve(List.of(tools + "/../evil/ok"), release))
        .hasMessageContaining("does not allow");
    assertThat(dir.approve(List.of(tools + "/ok"), release)).hasSize(1);
  }

  @Test
  void aScriptCommittedToTheReleaseIsRefused() {
    assertThatThrownBy(() -> policy.approve(List.of("./bin/ok"), release))
        .hasMessageContaining("does not allow");
    CommandRunner.Result r =
        CommandRunner.run(policy, List.of("./bin/ok"), release, Map.of(), Duration.ofSeconds(10));
    assertThat(r.ok()).isFalse();
    assertThat(r.output()).contains("does not allow").doesNotContain("planted");
  }

  @Test
  void withoutAListAnythingRunsAsWritten() throws Exception {
    assertThat(CommandPolicy.ANY.approve(List.of("./bin/ok"), release)).containsExactly("./bin/ok");
  }
}
