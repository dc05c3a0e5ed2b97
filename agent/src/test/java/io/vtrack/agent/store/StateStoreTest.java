package io.vtrack.agent.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StateStoreTest {
  @TempDir Path dir;

  @Test
  void migratesOnceAndKeepsDataAcrossReopen() throws Exception {
    try (StateStore s = StateStore.open(dir)) {
      assertThat(s.schemaVersion()).isEqualTo(2);
      s.upsertDeployment("app", "{}", "{}", "g1");
      s.setCurrentCommit("app", "abc");
    }
    try (StateStore s = StateStore.open(dir)) {
      assertThat(s.schemaVersion()).isEqualTo(2);
      assertThat(s.deployment("app").orElseThrow().currentCommit()).isEqualTo("abc");
    }
  }

  @Test
  void generationCounterMovesOnlyWhenTheSpecChanges() throws Exception {
    try (StateStore s = StateStore.open(dir)) {
      s.upsertDeployment("app", "{}", "{}", "g1");
      s.upsertDeployment("app", "{}", "{}", "g1");
      assertThat(s.deployment("app").orElseThrow().generationSeq()).isEqualTo(1);
      s.upsertDeployment("app", "{}", "{}", "g2");
      assertThat(s.deployment("app").orElseThrow().generationSeq()).isEqualTo(2);
    }
  }

  @Test
  void quarantineHoldsForItsGenerationOnly() throws Exception {
    try (StateStore s = StateStore.open(dir)) {
      s.quarantine("app", "bad", "g1", "StartupTimeout: x");
      assertThat(s.quarantinedCommits("app", "g1")).containsExactly("bad");
      assertThat(s.quarantinedCommits("app", "g2")).isEmpty();
      s.markVerified("app", "good", "{\"latency:l\":12.0}");
      assertThat(s.verifiedCommits("app")).containsExactly("good");
      assertThat(s.baseline("app", "good")).contains("{\"latency:l\":12.0}");
      assertThat(s.clearQuarantine("app")).isEqualTo(1);
      assertThat(s.quarantinedCommits("app", "g1")).isEmpty();
      assertThat(s.verifiedCommits("app")).containsExactly("good");
    }
  }

  @Test
  void rolloutsAndStepsArePersistedInOrder() throws Exception {
    try (StateStore s = StateStore.open(dir)) {
      long id =
          s.createRollout(
              RolloutRecord.create(
                  "app", "rollout", null, "c1", "v1", "g1", "Preparing", true, "{}"));
      assertThat(s.activeRollout("app")).get().extracting(RolloutRecord::id).isEqualTo(id);
      long step = s.startStep(id, "release");
      s.finishStep(step, "Succeeded", "ok");
      s.startStep(id, "prepare:deps");
      s.interruptOpenSteps(id);
      s.setStage(id, "Verifying");
      s.finishRollout(id, "Done", "Succeeded", "Succeeded", null);
      assertThat(s.activeRollout("app")).isEmpty();
      assertThat(s.steps(id))
          .extracting(StateStore.StepRecord::result)
          .containsExactly("Succeeded", "Interrupted");
      assertThat(s.lastFinishedRollout("app").orElseThrow().result()).isEqualTo("Succeeded");
      assertThat(s.rolloutThatDeployed("app", "c1")).isPresent();
    }
  }
}
