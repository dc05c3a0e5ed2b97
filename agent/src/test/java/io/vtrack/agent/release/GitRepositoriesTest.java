package io.vtrack.agent.release;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
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
  void aRevisionNotFoundWhileAFetchRunsSaysTheFetchMayBringIt() throws Exception {
    GitRepositories git = new GitRepositories(repos);
    String url = source.toString();
    git.fetch(url, null);
    assertThatThrownBy(() -> git.resolve(url, "v2"))
        .isInstanceOf(RevisionNotFoundException.class)
        .hasMessageNotContaining("under way");
    // The mirror's next fetch goes to a remote that takes the connection and says nothing, as a
    // slow git host does, until the test hangs up.
    CompletableFuture<Boolean> fetch;
    try (ServerSocket remote = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      try (Git mirror = Git.open(git.mirror(url).toFile())) {
        StoredConfig config = mirror.getRepository().getConfig();
        config.setString(
            "remote", "origin", "url", "http://127.0.0.1:" + remote.getLocalPort() + "/app.git");
        config.save();
      }
      fetch =
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return git.fetch(url, null);
                } catch (SourceUnavailableException e) {
                  return false;
                }
              });
      try (Socket asked = remote.accept()) {
        assertThatThrownBy(() -> git.resolve(url, "v2"))
            .isInstanceOf(RevisionNotFoundException.class)
            .hasMessageContaining("as fetched so far; a fetch of it is under way (for ")
            .hasMessageContaining("the revision may be in what it brings");
      }
    }
    assertThat(fetch.get(60, TimeUnit.SECONDS)).isFalse();
    // That fetch is over: not found is the answer again, without the note.
    assertThatThrownBy(() -> git.resolve(url, "v2"))
        .isInstanceOf(RevisionNotFoundException.class)
        .hasMessageNotContaining("under way");
  }

  @Test
  void aPathIsFoundAsAFileOrAFolderInTheCommitItself() throws Exception {
    GitRepositories git = new GitRepositories(repos);
    String url = source.toString();
    Files.createDirectories(source.resolve("deploy"));
    Files.writeString(source.resolve("deploy/app.yaml"), "kind: VTrackDeployment\n");
    String second;
    try (Git src = Git.open(source.toFile())) {
      src.add().addFilepattern("deploy").call();
      second = src.commit().setMessage("deploy").setSign(false).call().getName();
    }
    git.fetch(url, null);
    for (String p : List.of(".", "./", "", "deploy", "deploy/", "./deploy/", "deploy/app.yaml")) {
      assertThat(git.hasPath(url, second, p)).as(p).isTrue();
    }
    for (String p : List.of("deploys/", "deploy/other.yaml", "app.txt/x")) {
      assertThat(git.hasPath(url, second, p)).as(p).isFalse();
    }
    assertThat(git.hasPath(url, first, "deploy/")).as("not in the first commit").isFalse();
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

  @Test
  void whatACloneCutShortLeftIsRemovedAtTheNextCloneButNotAnotherAgentsRunningClone()
      throws Exception {
    Files.createDirectories(repos);
    // A clone of an agent that died (power cut): its folder and its lock file, held by no one.
    Files.createDirectories(repos.resolve(".clone-dead/objects"));
    Files.writeString(repos.resolve(".clone-dead/HEAD"), "ref: refs/heads/main\n");
    Files.createFile(repos.resolve(".clone-dead.lock"));
    // One of an agent that did not claim its clones (before this version), and a lock file whose
    // clone took its name just before its agent died.
    Files.createDirectories(repos.resolve(".clone-1234567890"));
    Files.createFile(repos.resolve(".clone-gone.lock"));
    // A clone still running in another agent on the same state folder (a rolling update).
    Files.createDirectories(repos.resolve(".clone-live"));
    Files.createFile(repos.resolve(".clone-live.lock"));
    Process other = holdLock(repos.resolve(".clone-live.lock"));
    try {
      GitRepositories git = new GitRepositories(repos);
      String url = source.toString();
      assertThat(git.fetch(url, null)).isTrue();
      assertThat(git.resolve(url, "v1")).isEqualTo(first);
      assertThat(names(repos))
          .containsExactlyInAnyOrder(
              git.mirror(url).getFileName().toString(), ".clone-live", ".clone-live.lock");
      // This process's own clone in progress is never taken for a leftover either.
      try (CloneFolders.Claim mine = CloneFolders.claim(repos)) {
        assertThat(CloneFolders.sweep(repos)).isEmpty();
        assertThat(mine.dir()).isDirectory();
      }
    } finally {
      other.destroyForcibly().waitFor();
    }
    // The other agent died mid-clone: its lock went with it.
    assertThat(CloneFolders.sweep(repos)).containsExactly(repos.resolve(".clone-live"));
    assertThat(names(repos)).allMatch(n -> !n.startsWith(".clone-"));
  }

  /** Another process that holds a lock on {@code file} (as an agent cloning does). */
  private Process holdLock(Path file) throws Exception {
    Path src = tmp.resolve("Hold.java");
    Files.writeString(
        src,
        """
        import java.nio.channels.FileChannel;
        import java.nio.file.Path;
        import java.nio.file.StandardOpenOption;
        public class Hold {
          public static void main(String[] a) throws Exception {
            FileChannel c = FileChannel.open(Path.of(a[0]), StandardOpenOption.WRITE);
            c.lock();
            System.out.println("locked");
            System.out.flush();
            System.in.read();
          }
        }
        """);
    Process p =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                src.toString(),
                file.toString())
            .redirectErrorStream(true)
            .start();
    String line =
        new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream())).readLine();
    assertThat(line).as("the other process holds the lock").isEqualTo("locked");
    return p;
  }

  private static List<String> names(Path dir) throws Exception {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).toList();
    }
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
