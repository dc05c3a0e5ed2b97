package io.vtrack.agent.reconcile;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class StatusRefreshTest {
  @Test
  void aReadThatBeganBeforeOneAlreadyPublishedIsNotPublished() {
    DeploymentState s = new DeploymentState();
    long rollouts = StatusRefresh.ticket(s);
    long commands = StatusRefresh.ticket(s);
    // The command's read ends first and is published; the rollout's, begun before, is not.
    assertThat(StatusRefresh.newest(s, commands)).isTrue();
    assertThat(StatusRefresh.newest(s, rollouts)).isFalse();
    // The same read published twice (a retry), and any read begun after, still are.
    assertThat(StatusRefresh.newest(s, commands)).isTrue();
    assertThat(StatusRefresh.newest(s, StatusRefresh.ticket(s))).isTrue();
  }

  @Test
  void readsPublishedInTheOrderTheyBeganAreAllPublished() {
    DeploymentState s = new DeploymentState();
    for (int i = 0; i < 5; i++) {
      assertThat(StatusRefresh.newest(s, StatusRefresh.ticket(s))).isTrue();
    }
  }
}
