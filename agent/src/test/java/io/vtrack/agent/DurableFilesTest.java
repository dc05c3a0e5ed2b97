package io.vtrack.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DurableFilesTest {
  @TempDir Path dir;

  @Test
  void forcesATreeWithoutFollowingItsLinksOrChangingIt() throws Exception {
    Path tree = dir.resolve("backup");
    Files.createDirectories(tree.resolve("data/nested"));
    Files.writeString(tree.resolve("data/app.db"), "rows");
    Files.writeString(tree.resolve("data/nested/config.json"), "{}");
    Files.createSymbolicLink(tree.resolve("dangling"), dir.resolve("nowhere"));
    Files.createSymbolicLink(tree.resolve("outside"), dir);
    DurableFiles.forceTree(tree);
    assertThat(Files.readString(tree.resolve("data/app.db"))).isEqualTo("rows");
    assertThat(Files.readString(tree.resolve("data/nested/config.json"))).isEqualTo("{}");
    assertThat(Files.isSymbolicLink(tree.resolve("dangling"))).isTrue();
  }

  @Test
  void flushesTheFileSystemOfAPathAndSaysWhenItCannot() {
    assertThat(DurableFiles.syncFileSystem(dir, Duration.ofSeconds(30))).isTrue();
    assertThat(DurableFiles.syncFileSystem(dir.resolve("gone"), Duration.ofSeconds(30))).isFalse();
  }

  @Test
  void aFileOrFolderThatIsNotThereIsAnErrorNotASilentSuccess() {
    assertThatThrownBy(() -> DurableFiles.force(dir.resolve("gone")))
        .isInstanceOf(NoSuchFileException.class);
    assertThatThrownBy(() -> DurableFiles.forceTree(dir.resolve("gone")))
        .isInstanceOf(NoSuchFileException.class);
  }
}
