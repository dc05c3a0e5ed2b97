package io.vtrack.agent;

import static org.assertj.core.api.Assertions.assertThat;

import io.vtrack.agent.release.GitRepositories;
import io.vtrack.agent.source.DesiredDocument;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.eclipse.jgit.api.Git;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Which app repositories a fetch says changed: those are reconciled as changed (a failure's backoff
 * gives way), the others are not. A real repository, fetched by jgit.
 */
class DocumentIntakeTest {
  @TempDir Path tmp;

  @Test
  void aRepositoryIsNewsWhenItMovesOrFailsAnewNotWhenItSaysTheSame() throws Exception {
    Path remote = tmp.resolve("app");
    String url = remote.toUri().toString();
    DocumentIntake intake =
        new DocumentIntake(new GitRepositories(tmp.resolve("repos")), null, null);
    List<DesiredDocument> docs =
        List.of(new DesiredDocument("app", null, List.of(), null, null, url));

    // Not there: the first failure is news, the same failure at the next poll is not.
    assertThat(intake.fetchApps(docs)).containsExactly(url);
    assertThat(intake.fetchApps(docs)).isEmpty();

    try (Git git = Git.init().setDirectory(remote.toFile()).setInitialBranch("main").call()) {
      commit(git, remote, "v1");
      // It answers: news; answering the same again is not.
      assertThat(intake.fetchApps(docs)).containsExactly(url);
      assertThat(intake.fetchApps(docs)).isEmpty();
      commit(git, remote, "v2");
      assertThat(intake.fetchApps(docs)).containsExactly(url);
    }
  }

  private static void commit(Git git, Path dir, String content) throws Exception {
    Files.writeString(dir.resolve("VERSION"), content);
    git.add().addFilepattern("VERSION").call();
    git.commit()
        .setMessage(content)
        .setAuthor("t", "t@example.com")
        .setCommitter("t", "t@example.com")
        .call();
  }
}
