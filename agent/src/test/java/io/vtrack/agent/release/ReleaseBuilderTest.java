package io.vtrack.agent.release;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
}
