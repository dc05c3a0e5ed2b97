package io.vtrack.agent.release;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.eclipse.jgit.api.Git;
import org.eclipse.jgit.lib.ConfigConstants;
import org.eclipse.jgit.lib.StoredConfig;
import org.eclipse.jgit.revwalk.RevCommit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Mirrors of real git repositories (jgit, on local paths). */
class GitRepositoriesTest {
  @TempDir Path tmp;
  Path source;
  Path repos;
  String first;

  @BeforeEach
  void sourceRepository() throws Exception {
    source = tmp.resolve("source");
    repos = tmp.resolve("repos");
    try (Git git = Git.init().setDirectory(source.toFile()).setInitialBranch("main").call()) {
      first = commit(git, "v1");
      git.tag().setName("v1").call();
    }
  }

  private String commit(Git git, String text) throws Exception {
    Files.writeString(source.resolve("app.txt"), text);
    git.add().addFilepattern("app.txt").call();
    RevCommit c = git.commit().setMessage(text).setSign(false).call();
    return c.getName();
  }

  @Test
  void aNewMirrorIsCompleteUnderItsNameAndRunsItsGcInTheFetch() throws Exception {
    GitRepositories git = new GitRepositories(repos);
    String url = source.toString();
    assertThat(git.fetch(url, null)).isTrue();
    assertThat(git.resolve(url, "main")).isEqualTo(first);
    assertThat(git.resolve(url, "v1")).isEqualTo(first);
    // Nothing beside the mirror: no temporary clone, no lock a background gc left behind.
    try (Stream<Path> names = Files.list(repos)) {
      assertThat(names.map(p -> p.getFileName().toString()).toList())
          .containsExactly(git.mirror(url).getFileName().toString());
    }
    assertThat(locks(git.mirror(url))).isEmpty();
    assertThat(autoDetach(git.mirror(url))).isFalse();

    try (Git src = Git.open(source.toFile())) {
      String second = commit(src, "v2");
      assertThat(git.fetch(url, null)).isTrue();
      assertThat(git.resolve(url, "main")).isEqualTo(second);
    }
    assertThat(git.fetch(url, null)).as("nothing changed").isFalse();
  }

  @Test
  void aMirrorMadeBeforeRunsItsGcInTheFetchFromItsNextFetch() throws Exception {
    GitRepositories git = new GitRepositories(repos);
    String url = source.toString();
    git.fetch(url, null);
    try (Git mirror = Git.open(git.mirror(url).toFile())) {
      StoredConfig config = mirror.getRepository().getConfig();
      config.unsetSection(ConfigConstants.CONFIG_GC_SECTION, null);
      config.save();
    }
    assertThat(autoDetach(git.mirror(url))).isTrue();
    git.fetch(url, null);
    assertThat(autoDetach(git.mirror(url))).isFalse();
  }

  @Test
  void aCloneThatFailsLeavesNothingBehind() throws Exception {
    GitRepositories git = new GitRepositories(repos);
    String url = tmp.resolve("no-such-repository").toString();
    assertThatThrownBy(() -> git.fetch(url, null))
        .isInstanceOf(SourceUnavailableException.class)
        .hasMessageContaining("cannot fetch");
    try (Stream<Path> names = Files.list(repos)) {
      assertThat(names.toList()).isEmpty();
    }
    assertThat(git.hasMirror(url)).isFalse();
  }

  private static boolean autoDetach(Path mirror) throws Exception {
    try (Git g = Git.open(mirror.toFile())) {
      return g.getRepository()
          .getConfig()
          .getBoolean(
              ConfigConstants.CONFIG_GC_SECTION, ConfigConstants.CONFIG_KEY_AUTODETACH, true);
    }
  }

  private static List<Path> locks(Path mirror) throws Exception {
    try (Stream<Path> all = Files.walk(mirror)) {
      return all.filter(p -> p.getFileName().toString().endsWith(".lock")).toList();
    }
  }
}
