package io.vtrack.agent.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.dataformat.yaml.YAMLMapper;

/** What {@code compose config}'s output says about volumes, as both CLI versions print it. */
class ComposeFilesTest {
  static final YAMLMapper YAML = new YAMLMapper();

  @Test
  void volumesWithoutANameOfTheirOwnBelongToTheProjectAsV1PrintsThem() {
    // docker-compose 1.29 config -p myproj, volumes dbdata, shared {name: fixed-shared}, ext
    // {external: true}.
    var config =
        YAML.readTree(
            """
            services:
              db:
                image: vtrack/runtime:bookworm
                volumes:
                - dbdata:/data:rw
                - shared:/shared:rw
                - ext:/ext:rw
                - /tmp/cv/local:/local:rw
            version: '3.8'
            volumes:
              dbdata: {}
              ext:
                external: true
                name: ext
              shared:
                name: fixed-shared
            """);
    assertThat(ComposeFiles.projectVolumes(config, "myproj")).containsExactly("dbdata");
  }

  @Test
  void volumesNamedAfterTheProjectBelongToItAsV2PrintsThem() {
    var config =
        YAML.readTree(
            """
            name: myproj
            services:
              db:
                image: vtrack/runtime:bookworm
            volumes:
              dbdata:
                name: myproj_dbdata
              ext:
                name: ext
                external: true
              legacy:
                external:
                  name: legacy-volume
              shared:
                name: fixed-shared
            """);
    assertThat(ComposeFiles.projectVolumes(config, "myproj")).containsExactly("dbdata");
  }

  @Test
  void aServiceInAProfileRunsOnlyWhenTheProfileIsActive(@TempDir Path release) throws Exception {
    var config =
        YAML.readTree(
            """
            services:
              web: {image: x}
              debug: {image: x, profiles: [debug, tools]}
            """);
    assertThat(ComposeFiles.runs(config.path("services").path("web"), Set.of())).isTrue();
    assertThat(ComposeFiles.runs(config.path("services").path("debug"), Set.of())).isFalse();
    assertThat(ComposeFiles.runs(config.path("services").path("debug"), Set.of("tools"))).isTrue();

    assertThat(ComposeFiles.activeProfiles(Map.of("COMPOSE_PROFILES", "a, b"), release))
        .containsExactlyInAnyOrder("a", "b");
    Files.writeString(release.resolve(".env"), "X=1\nCOMPOSE_PROFILES=\"debug\"\n");
    assertThat(ComposeFiles.activeProfiles(Map.of(), release)).containsExactly("debug");
    // What the CLI is given comes before the release's .env, as compose reads it.
    assertThat(ComposeFiles.activeProfiles(Map.of("COMPOSE_PROFILES", ""), release)).isEmpty();
  }

  @Test
  void aServiceAnotherWaitsForToCompleteRunsOnce() {
    // docker-compose 1.29 config of a web service waiting for a migration to complete.
    var config =
        YAML.readTree(
            """
            services:
              migrate:
                command: [sh, -c, echo migrated]
                image: vtrack/runtime:bookworm
              seed: {image: x}
              web:
                depends_on:
                  migrate:
                    condition: service_completed_successfully
                  seed:
                    condition: service_started
                image: vtrack/runtime:bookworm
            version: '2.4'
            """);
    var services = config.path("services");
    assertThat(ComposeFiles.oneShots(services, Set.of("migrate", "seed", "web")))
        .containsExactly("migrate");
    // A service that waits but does not run (an inactive profile) waits for nothing.
    assertThat(ComposeFiles.oneShots(services, Set.of("migrate", "seed"))).isEmpty();
  }

  @Test
  void noVolumesNoProblem() {
    assertThat(ComposeFiles.projectVolumes(YAML.readTree("services: {a: {image: x}}"), "p"))
        .isEmpty();
  }
}
