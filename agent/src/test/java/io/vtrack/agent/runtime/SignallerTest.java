package io.vtrack.agent.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Stopping process groups with real processes. */
class SignallerTest {
  @Test
  void aStoppedProcessIsContinuedToActOnItsStopSignalInsteadOfBeingKilledAfterTheTimeout()
      throws Exception {
    // A group of its own (setsid execs in place: the child is no group leader), then stopped.
    Process p = new ProcessBuilder("setsid", "sleep", "1000").start();
    try {
      long pgid = p.pid();
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> ProcStat.read(pgid).map(s -> s.pgid() == pgid).orElse(false));
      assertThat(Signaller.signalGroup(pgid, "STOP")).isTrue();
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> ProcStat.read(pgid).map(s -> s.state() == 'T').orElse(false));

      List<Long> killed = Signaller.stopGroups(List.of(pgid), "TERM", Duration.ofSeconds(20));

      assertThat(killed).as("groups that had to be killed after the timeout").isEmpty();
      assertThat(ProcStat.groupMembers(pgid)).isEmpty();
    } finally {
      p.destroyForcibly();
    }
  }
}
