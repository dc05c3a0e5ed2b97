package io.vtrack.agent;

import static org.assertj.core.api.Assertions.assertThat;

import io.vtrack.agent.release.GitRepositories;
import io.vtrack.agent.source.DesiredDocument;
import io.vtrack.agent.source.DocumentReader;
import io.vtrack.agent.source.SourceRef;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.eclipse.jgit.api.Git;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Which deployments a fetch of their app repositories has news for: those are reconciled as changed
 * (a failure's backoff gives way), the others are not. A real repository, fetched by jgit.
 */
class DocumentIntakeTest {
  @TempDir Path tmp;

  @Test
  void aRepositoryIsNewsWhenItMovesOrFailsAnewNotWhenItSaysTheSame() throws Exception {
    Path remote = tmp.resolve("app");
    String url = remote.toUri().toString();
    DocumentIntake intake =
        new DocumentIntake(new GitRepositories(tmp.resolve("repos")), null, null);
    List<DesiredDocument> docs = List.of(document("app", url, "main"));

    // Not there: the first failure is news, the same failure at the next poll is not.
    assertThat(intake.fetchRepo(url, docs)).containsExactly("app");
    assertThat(intake.fetchRepo(url, docs)).isEmpty();

    try (Git git = Git.init().setDirectory(remote.toFile()).setInitialBranch("main").call()) {
      commit(git, remote, "v1");
      // It answers: news; answering the same again is not.
      assertThat(intake.fetchRepo(url, docs)).containsExactly("app");
      assertThat(intake.fetchRepo(url, docs)).isEmpty();
      commit(git, remote, "v2");
      assertThat(intake.fetchRepo(url, docs)).containsExactly("app");
    }
  }

  /**
   * A push that leaves what a deployment's revision names where it was (a commit to main beside a
   * tag) is news only to the deployments tracking what moved.
   */
  @Test
  void aCommitIsNewsOnlyToTheDeploymentsWhoseRevisionItMoves() throws Exception {
    Path remote = tmp.resolve("app");
    String url = remote.toUri().toString();
    DocumentIntake intake =
        new DocumentIntake(new GitRepositories(tmp.resolve("repos")), null, null);
    try (Git git = Git.init().setDirectory(remote.toFile()).setInitialBranch("main").call()) {
      commit(git, remote, "v1");
      git.tag().setName("v1").call();
      List<DesiredDocument> docs =
          List.of(document("pinned", url, "v1"), document("tracking", url, "main"));
      assertThat(intake.fetchRepo(url, docs)).containsExactlyInAnyOrder("pinned", "tracking");

      commit(git, remote, "v2");
      assertThat(intake.fetchRepo(url, docs)).containsExactly("tracking");
      // A tag that appears is no news to either; the tag moved is news to its deployment.
      git.tag().setName("v2").call();
      assertThat(intake.fetchRepo(url, docs)).isEmpty();
      git.tag().setName("v1").setForceUpdate(true).call();
      assertThat(intake.fetchRepo(url, docs)).containsExactly("pinned");
    }
  }

  /** A document of deployment {@code name} for {@code revision} of the app at {@code url}. */
  private static DesiredDocument document(String name, String url, String revision) {
    String yaml =
        """
        apiVersion: vtrack.io/v1alpha1
        kind: VTrackDeployment
        metadata: {name: %s}
        spec:
          source: {repoURL: "%s", revision: %s}
          runtime:
            type: process
            services:
              - {name: web, command: [python3, app.py]}
          health:
            checks:
              - {name: up, http: {url: "http://127.0.0.1:8080/"}}
        """
            .formatted(name, url, revision);
    SourceRef where = new SourceRef("file", "docs", null, name + ".yaml", 1, null, null, null);
    DesiredDocument d = DocumentReader.read(yaml, where, null).get(0);
    assertThat(d.errors()).isEmpty();
    return d;
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
