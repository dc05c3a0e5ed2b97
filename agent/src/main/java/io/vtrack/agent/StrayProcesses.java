package io.vtrack.agent;

import io.vtrack.agent.runtime.OrphanScan;
import io.vtrack.agent.runtime.ProcStat;
import io.vtrack.agent.runtime.Signaller;
import io.vtrack.agent.store.StateStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the agent does on start about app processes started from its state folder that its store
 * does not account for (found by the {@code VTRACK_STATE_DIR} they inherited). Blocking: call from
 * a worker.
 */
final class StrayProcesses {
  private static final Logger LOG = LoggerFactory.getLogger(StrayProcesses.class);

  private StrayProcesses() {}

  /**
   * With no state store but app processes started from this state folder still running, starting
   * afresh would start a second copy of each: refuse, and say what to do.
   */
  static void refuseSecondCopy(Path stateDir) {
    if (Files.exists(StateStore.file(stateDir))) {
      return;
    }
    List<OrphanScan.Found> running = OrphanScan.find(stateDir);
    if (!running.isEmpty()) {
      throw new IllegalStateException(
          "the state store "
              + StateStore.file(stateDir)
              + " is missing, but processes started from "
              + stateDir
              + " still run (pids "
              + running.stream().map(f -> Long.toString(f.pid())).toList()
              + " of "
              + running.stream().map(OrphanScan.Found::deployment).distinct().toList()
              + "). Starting with an empty store would start a second copy of each. Restore"
              + " state.db from a copy, or stop those processes, then start the agent again;"
              + " nothing was changed.");
    }
  }

  /**
   * A process started from this state folder for a deployment the store knows, but with no row of
   * its own (the agent was killed between starting it and recording it): stopped, since the stage
   * that started it runs again and the store must account for everything that runs.
   */
  static void stopUnrecorded(StateStore store, Path stateDir) throws Exception {
    Set<String> known = new HashSet<>();
    for (var d : store.deployments().all()) {
      known.add(d.name());
    }
    Set<Long> recorded = new HashSet<>();
    Set<String> running = new HashSet<>();
    for (var p : store.processes().all()) {
      recorded.add(p.pgid());
      if (ProcStat.isAlive(p.pid(), p.startTicks())) {
        running.add(p.deployment() + "\0" + p.service());
      }
    }
    for (OrphanScan.Found f : OrphanScan.find(stateDir)) {
      // A child that left the group of a service that runs is that service's: it stops with it.
      boolean childOfRunning = running.contains(f.instance() + "\0" + f.service());
      if (known.contains(f.deployment()) && !recorded.contains(f.pgid()) && !childOfRunning) {
        LOG.warn(
            "{}: pid {} was started here but never recorded (the agent was killed meanwhile):"
                + " stopping it",
            f.deployment(),
            f.pid());
        Signaller.stopGroup(f.pgid(), "TERM", Duration.ofSeconds(10));
      }
    }
  }
}
