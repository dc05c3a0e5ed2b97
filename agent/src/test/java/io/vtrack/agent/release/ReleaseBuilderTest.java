package io.vtrack.agent.release;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vtrack.agent.store.StateStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Shared paths are linked without ever deleting or replacing what lives in shared/. */
class ReleaseBuilderTest {
  @TempDir Path tmp;
  Path release;
  Path shared;
  Path db;
  Path app;
  String commit;

  @BeforeEach
  void setUp() throws Exception {
    release = tmp.resolve("releases/abc");
    shared = tmp.resolve("shared");
    db = shared.resolve("backend/database/events.db");
    Files.createDirectories(db.getParent());
    Files.writeString(db, "live data");
    Files.createDirectories(release.resolve("backend/database"));
    Files.writeString(release.resolve("backend/database/events.db"), "seed");
  }

  @Test
  void linksASharedFolderAndKeepsTheLiveData() throws Exception {
    ReleaseBuilder.linkShared(release, shared, List.of("backend/database/"), List.of());
    assertThat(Files.isSymbolicLink(release.resolve("backend/database"))).isTrue();
    assertThat(Files.readString(db)).isEqualTo("live data");
  }

  @Test
  void theReleaseRootIsNeverASharedPath() {
    assertThatThrownBy(() -> ReleaseBuilder.linkShared(release, shared, List.of("./"), List.of()))
        .isInstanceOf(ConfinedPath.UnsafePathException.class);
    assertThat(release).isDirectory();
    assertThat(db).hasContent("live data");
  }

  @Test
  void aLinkCommittedToTheAppIsNeverFollowed() throws Exception {
    Path elsewhere = tmp.resolve("elsewhere");
    Files.createDirectories(elsewhere.resolve("database"));
    Files.writeString(elsewhere.resolve("database/keep.txt"), "not the agent's");
    Path backend = release.resolve("backend");
    ReleaseBuilder.deleteTree(backend);
    Files.createSymbolicLink(backend, elsewhere);
    assertThatThrownBy(
            () ->
                ReleaseBuilder.linkShared(release, shared, List.of("backend/database/"), List.of()))
        .hasMessageContaining("symbolic link");
    assertThat(elsewhere.resolve("database/keep.txt")).hasContent("not the agent's");
    assertThat(db).hasContent("live data");
  }

  @Test
  void aLinkFromTheReleaseIntoSharedNeverLetsSharedBeDeleted() throws Exception {
    // What a release that had become a link to shared/ did: the live database folder was deleted.
    Path backend = release.resolve("backend");
    ReleaseBuilder.deleteTree(backend);
    Files.createSymbolicLink(backend, shared.resolve("backend"));
    assertThatThrownBy(
            () ->
                ReleaseBuilder.linkShared(release, shared, List.of("backend/database/"), List.of()))
        .isInstanceOf(ConfinedPath.UnsafePathException.class);
    assertThat(db).hasContent("live data");
  }

  @Test
  void aSourcePathThatNamesNoFolderOfTheCommitExportsNothingAndSaysSo() throws Exception {
    GitRepositories repos = fetchedApp();
    DeploymentPaths paths = DeploymentPaths.of(tmp.resolve("state"), "vtrack");
    try (StateStore store = StateStore.open(tmp.resolve("state"))) {
      theBadPathsExportNothing(new ReleaseBuilder(repos, store.releases()), paths, app, commit);
    }
  }

  private static void theBadPathsExportNothing(
      ReleaseBuilder builder, DeploymentPaths paths, Path app, String commit) throws Exception {
    for (String path : List.of("nope/", "backend/app.py")) {
      assertThatThrownBy(() -> builder.build(paths, app.toString(), commit, spec(path)))
          .isInstanceOf(SourcePathNotFoundException.class)
          .hasMessage(
              "spec.source.path: '"
                  + path
                  + "' names no folder in commit "
                  + commit.substring(0, 7)
                  + " of "
                  + app);
      // Nothing is left to be taken for this commit's release later, with the path put right.
      assertThat(paths.release(commit)).doesNotExist();
      try (var left = Files.list(paths.releases())) {
        assertThat(left).isEmpty();
      }
    }
    Path dir = builder.build(paths, app.toString(), commit, spec("backend/")).dir();
    assertThat(dir.resolve("app.py")).hasContent("print('hi')");
  }

  @Test
  void aReleaseExportedFromAnotherFolderOfTheCommitIsExportedAgain() throws Exception {
    GitRepositories repos = fetchedApp();
    try (StateStore store = StateStore.open(tmp.resolve("state"))) {
      ReleaseSources sources = store.releases();
      ReleaseBuilder builder = new ReleaseBuilder(repos, sources);
      DeploymentPaths paths = DeploymentPaths.of(tmp.resolve("state"), "vtrack");

      // The document first named the repository's root, where the app is not.
      Path dir = builder.build(paths, app.toString(), commit, spec(".")).dir();
      assertThat(dir.resolve("backend/app.py")).exists();
      assertThat(sources.exportedFrom("vtrack", commit)).isEmpty();
      assertThat(ReleaseBuilder.exportedFromElsewhere(sources, paths, commit, spec("./")))
          .isFalse();
      assertThat(ReleaseBuilder.exportedFromElsewhere(sources, paths, commit, spec("backend/")))
          .isTrue();

      // Put right: the same commit's release is what the path names, not the first export.
      dir = builder.build(paths, app.toString(), commit, spec("backend/")).dir();
      assertThat(dir).isEqualTo(paths.release(commit));
      assertThat(dir.resolve("app.py")).hasContent("print('hi')");
      assertThat(dir.resolve("backend")).doesNotExist();
      assertThat(sources.exportedFrom("vtrack", commit)).isEqualTo("backend");
      try (var left = Files.list(paths.releases())) {
        assertThat(left.map(p -> p.getFileName().toString())).containsExactly(commit);
      }

      // The same folder spelled another way reuses the release (what prepare wrote stays).
      Files.writeString(dir.resolve("built.txt"), "prepared");
      dir = builder.build(paths, app.toString(), commit, spec("./backend")).dir();
      assertThat(dir.resolve("built.txt")).hasContent("prepared");

      // A release from before the folder was recorded is reused as it is.
      store.releases().forget("vtrack", List.of(commit));
      dir = builder.build(paths, app.toString(), commit, spec(".")).dir();
      assertThat(dir.resolve("built.txt")).hasContent("prepared");
    }
  }

  /** A repository whose app is in {@code backend/}, committed ({@link #commit}) and fetched. */
  private GitRepositories fetchedApp() throws Exception {
    app = tmp.resolve("app");
    Files.createDirectories(app.resolve("backend"));
    Files.writeString(app.resolve("backend/app.py"), "print('hi')\n");
    commit = commitAll(app);
    GitRepositories repos = new GitRepositories(tmp.resolve("repos"));
    repos.fetch(app.toString(), null);
    return repos;
  }

  private static String commitAll(Path dir) throws Exception {
    try (org.eclipse.jgit.api.Git git =
        org.eclipse.jgit.api.Git.init()
            .setDirectory(dir.toFile())
            .setInitialBranch("main")
            .call()) {
      git.add().addFilepattern(".").call();
      return git.commit().setMessage("v1").setSign(false).call().getName();
    }
  }

  private static io.vtrack.agent.model.DeploymentSpec spec(String path) {
    String yaml =
        """
        apiVersion: vtrack.io/v1alpha1
        kind: VTrackDeployment
        metadata: {name: vtrack}
        spec:
          source: {repoURL: "file:///srv/app.git", revision: main, path: "%s"}
          runtime:
            type: process
            services: [{name: backend, command: [python3, app.py]}]
          health:
            checks: [{name: up, http: {url: "http://127.0.0.1:8080/"}}]
        """
            .formatted(path);
    var parsed =
        io.vtrack.agent.model.DocumentParser.parseAll(
            yaml, "test.yaml", io.vtrack.agent.model.SpecValidator.Context.FILE);
    assertThat(parsed.get(0).errors()).isEmpty();
    return parsed.get(0).document().spec();
  }
}
