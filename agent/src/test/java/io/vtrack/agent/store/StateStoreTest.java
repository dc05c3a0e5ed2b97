package io.vtrack.agent.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vtrack.agent.model.Reason;
import io.vtrack.agent.model.RolloutKind;
import io.vtrack.agent.model.RolloutResult;
import io.vtrack.agent.model.Stage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.SQLException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StateStoreTest {
  @TempDir Path dir;

  static RolloutRecord rollout(String to) {
    return RolloutRecord.create(
        "app", RolloutKind.Rollout, null, to, "v1", "g1", Stage.Preparing, true, "{}", "{}");
  }

  @Test
  void aRolloutIsAskedToStopOnceAndOnlyWhileItCanStop() throws Exception {
    try (StateStore s = StateStore.open(dir)) {
      long id = s.rollouts().create(rollout("abc"));
      s.rollouts().setStage(id, Stage.Verifying);
      assertThat(s.rollouts().stopRequest(id)).isEmpty();
      assertThat(s.rollouts().requestStop(id, "ops", null)).isTrue();
      assertThat(s.rollouts().requestStop(id, "ops again", true)).isFalse();
      RolloutRepository.StopRequest stop = s.rollouts().stopRequest(id).orElseThrow();
      assertThat(stop.by()).isEqualTo("ops");
      assertThat(stop.stage()).isEqualTo(Stage.Verifying);
      assertThat(stop.restoreData()).isNull();
      assertThat(stop.describe()).isEqualTo("rolled back by ops while Verifying");

      long rollingBack = s.rollouts().create(rollout("def"));
      s.rollouts().setStage(rollingBack, Stage.RollingBack);
      assertThat(s.rollouts().requestStop(rollingBack, "ops", false)).isFalse();
      long done = s.rollouts().create(rollout("ghi"));
      s.rollouts().finish(done, io.vtrack.agent.model.RolloutResult.Succeeded, null, null);
      assertThat(s.rollouts().requestStop(done, "ops", false)).isFalse();
      long manual =
          s.rollouts()
              .create(
                  RolloutRecord.create(
                      "app",
                      RolloutKind.ManualRollback,
                      "ghi",
                      "abc",
                      null,
                      "g1",
                      Stage.BackingUp,
                      false,
                      "{}",
                      "{}"));
      assertThat(s.rollouts().requestStop(manual, "ops", false)).isFalse();
      long kept = s.rollouts().create(rollout("jkl"));
      assertThat(s.rollouts().requestStop(kept, "ops", false)).isTrue();
      assertThat(s.rollouts().stopRequest(kept).orElseThrow().restoreData()).isFalse();
    }
  }

  @Test
  void migratesOnceAndKeepsDataAcrossReopen() throws Exception {
    int version;
    try (StateStore s = StateStore.open(dir)) {
      version = s.schemaVersion();
      assertThat(version).isGreaterThanOrEqualTo(4);
      s.deployments().upsert("app", "{}", "{}", "g1");
      s.deployments().setRunning("app", "abc", "{\"x\":1}");
    }
    try (StateStore s = StateStore.open(dir)) {
      assertThat(s.schemaVersion()).isEqualTo(version);
      var row = s.deployments().get("app").orElseThrow();
      assertThat(row.currentCommit()).isEqualTo("abc");
      assertThat(row.runningSpecJson()).isEqualTo("{\"x\":1}");
    }
  }

  @Test
  void everyCommitIsOnTheDiskWhenItReturns() throws Exception {
    try (StateStore s = StateStore.open(dir)) {
      assertThat(s.pragma("journal_mode")).isEqualTo("wal");
      // 2 = FULL: the WAL is flushed at every commit, so a power loss keeps what was committed.
      assertThat(s.pragma("synchronous")).isEqualTo("2");
    }
  }

  @Test
  void theStoreIsReadableByItsOwnerOnly() throws Exception {
    try (StateStore s = StateStore.open(dir.resolve("state"))) {
      assertThat(
              PosixFilePermissions.toString(
                  Files.getPosixFilePermissions(StateStore.file(dir.resolve("state")))))
          .isEqualTo("rw-------");
    }
  }

  @Test
  void aCorruptStoreIsRefusedNamingTheFileAndWhatToDo() throws Exception {
    Files.writeString(StateStore.file(dir), "this is not a database, it is a corrupt file");
    assertThatThrownBy(() -> StateStore.open(dir))
        .isInstanceOf(SQLException.class)
        .hasMessageContaining(StateStore.file(dir).toString())
        .hasMessageContaining("Restore the file from a copy");
  }

  @Test
  void generationCounterMovesOnlyWhenTheSpecChanges() throws Exception {
    try (StateStore s = StateStore.open(dir)) {
      s.deployments().upsert("app", "{}", "{}", "g1");
      s.deployments().upsert("app", "{}", "{}", "g1");
      assertThat(s.deployments().get("app").orElseThrow().generationSeq()).isEqualTo(1);
      s.deployments().upsert("app", "{}", "{}", "g2");
      assertThat(s.deployments().get("app").orElseThrow().generationSeq()).isEqualTo(2);
    }
  }

  @Test
  void theSameDocumentReadAgainWritesNothing() throws Exception {
    try (StateStore s = StateStore.open(dir)) {
      s.deployments().upsert("app", "{\"file\":\"a\"}", "{}", "g1");
      String first = updatedAt();
      s.deployments().upsert("app", "{\"file\":\"a\"}", "{}", "g1");
      s.deployments().upsert("app", "{\"file\":\"a\"}", null, "g1");
      assertThat(updatedAt()).isEqualTo(first);
      s.deployments().upsert("app", "{\"file\":\"b\"}", null, "g1");
      assertThat(updatedAt()).isNotEqualTo(first);
      assertThat(s.deployments().get("app").orElseThrow().generationSeq()).isEqualTo(1);
      s.deployments().upsert("app", "{\"file\":\"b\"}", "{\"x\":1}", "g1");
      assertThat(s.deployments().get("app").orElseThrow().specJson()).isEqualTo("{\"x\":1}");
    }
  }

  private String updatedAt() throws Exception {
    try (var c = java.sql.DriverManager.getConnection("jdbc:sqlite:" + StateStore.file(dir));
        var rs = c.createStatement().executeQuery("SELECT updated_at FROM deployments")) {
      rs.next();
      return rs.getString(1);
    }
  }

  @Test
  void quarantineHoldsForItsGenerationOnly() throws Exception {
    try (StateStore s = StateStore.open(dir)) {
      s.commits().quarantine("app", "bad", "g1", "StartupTimeout: x");
      assertThat(s.commits().quarantined("app", "g1")).containsExactly("bad");
      assertThat(s.commits().quarantined("app", "g2")).isEmpty();
      s.commits().markVerified("app", "good", "{\"latency:l\":12.0}");
      assertThat(s.commits().verified("app")).containsExactly("good");
      assertThat(s.commits().baseline("app", "good")).contains("{\"latency:l\":12.0}");
      assertThat(s.commits().clearQuarantine("app")).isEqualTo(1);
      assertThat(s.commits().quarantined("app", "g1")).isEmpty();
      assertThat(s.commits().verified("app")).containsExactly("good");
    }
  }

  @Test
  void rolloutsAndStepsArePersistedInOrder() throws Exception {
    try (StateStore s = StateStore.open(dir)) {
      long id = s.rollouts().create(rollout("c1"));
      assertThat(s.rollouts().active("app")).get().extracting(RolloutRecord::id).isEqualTo(id);
      assertThat(s.rollouts().get(id).orElseThrow().specJson()).isEqualTo("{}");
      long step = s.rollouts().startStep(id, "release");
      s.rollouts().finishStep(step, "Succeeded", "ok");
      s.rollouts().startStep(id, "prepare:deps");
      assertThat(s.rollouts().interruptOpenSteps()).isEqualTo(1);
      s.rollouts().setStage(id, Stage.Verifying);
      s.rollouts().finish(id, RolloutResult.Succeeded, Reason.Succeeded, null);
      assertThat(s.rollouts().active("app")).isEmpty();
      assertThat(s.rollouts().steps(id))
          .extracting(RolloutRepository.StepRecord::result)
          .containsExactly("Succeeded", "Interrupted");
      RolloutRecord done = s.rollouts().lastFinished("app").orElseThrow();
      assertThat(done.result()).isEqualTo(RolloutResult.Succeeded);
      assertThat(done.stage()).isEqualTo(Stage.Done);
      assertThat(s.rollouts().thatDeployed("app", "c1")).isPresent();
    }
  }

  @Test
  void aTransactionIsAllOrNothing() throws Exception {
    try (StateStore s = StateStore.open(dir)) {
      assertThatThrownBy(
              () ->
                  s.transaction(
                      () -> {
                        s.commits().quarantine("app", "bad", "g1", "x");
                        s.rollouts().create(rollout("c1"));
                        throw new SQLException("boom");
                      }))
          .hasMessage("boom");
      assertThat(s.commits().quarantined("app", "g1")).isEmpty();
      assertThat(s.rollouts().active("app")).isEmpty();
    }
  }

  @Test
  void historyBeyondRetentionIsPruned() throws Exception {
    try (StateStore s = StateStore.open(dir)) {
      for (int i = 0; i < 5; i++) {
        long id = s.rollouts().create(rollout("c" + i));
        s.rollouts().startStep(id, "release");
        s.events().add("app", id, "RolloutStarted", null, "x");
        s.rollouts().finish(id, RolloutResult.Succeeded, null, null);
      }
      long active = s.rollouts().create(rollout("c9"));
      assertThat(s.rollouts().prune("app", 2)).isEqualTo(3);
      assertThat(s.rollouts().list("app", 100))
          .extracting(RolloutRecord::toCommit)
          .containsExactly("c9", "c4", "c3");
      assertThat(s.rollouts().get(active)).isPresent();
    }
  }
}
