package io.vtrack.agent.runtime;

import io.vtrack.agent.store.ProcessRepository.ProcessRow;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Stopping one service of a process deployment: its process group and the groups of what it started
 * in sessions of their own, with its signal, KILL after its timeout.
 */
final class ServiceStop {
  private static final Logger LOG = LoggerFactory.getLogger(ServiceStop.class);

  private ServiceStop() {}

  /** Stops a service's group and what left it; says what is worth telling (else ""). */
  static String run(Path stateFolder, ProcessRow row, String signal, Duration timeout) {
    List<Long> groups = new ArrayList<>();
    // Only signal the group while its leader is the process we started: a reused pid or pgid
    // belongs to someone else. A leader that died may have left members in the group, though.
    boolean leaderOurs = ProcStat.isAlive(row.pid(), row.startTicks());
    boolean groupLeft = !ProcStat.groupMembers(row.pgid()).isEmpty();
    if (leaderOurs
        || (groupLeft && !ProcStat.read(row.pgid()).filter(ProcStat::alive).isPresent())) {
      LOG.info(
          "{}: stopping {} (pgid {}) with {}", row.deployment(), row.service(), row.pgid(), signal);
      groups.add(row.pgid());
    }
    // A child that left the group (its own session) would outlive the service, holding its port
    // or its files: it is stopped with the service, as systemd stops a unit's whole cgroup.
    for (long g :
        OrphanScan.leftGroup(
            stateFolder, row.deployment(), row.service(), row.pgid(), row.startTicks())) {
      LOG.info(
          "{}: stopping pgid {}, started by {} but out of its process group, with {}",
          row.deployment(),
          g,
          row.service(),
          signal);
      groups.add(g);
    }
    int outOfGroup = groups.size() - (groups.contains(row.pgid()) ? 1 : 0);
    List<Long> killed = Signaller.stopGroups(groups, signal, timeout);
    List<String> said = new ArrayList<>();
    if (killed.contains(row.pgid())) {
      said.add(
          row.service()
              + " still ran "
              + (timeout.toMillis() % 1000 == 0
                  ? timeout.toSeconds() + "s"
                  : timeout.toMillis() + "ms")
              + " after "
              + signal
              + ": killed");
    }
    if (outOfGroup > 0) {
      said.add(
          row.service()
              + ": stopped "
              + outOfGroup
              + (outOfGroup == 1 ? " process" : " processes")
              + " it started out of its process group");
    }
    return String.join("; ", said);
  }
}
