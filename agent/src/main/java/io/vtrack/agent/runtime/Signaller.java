package io.vtrack.agent.runtime;

import io.vtrack.agent.model.Signals;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Sends signals to whole process groups and waits for them to empty. Java can only send TERM and
 * KILL to single processes, so this goes through the {@code kill} command, which takes any name.
 */
public final class Signaller {
  private Signaller() {}

  /** Sends {@code signal} to every process of group {@code pgid}; false when none received it. */
  public static boolean signalGroup(long pgid, String signal) {
    if (pgid <= 1) {
      return false;
    }
    String name = signal.toUpperCase(Locale.ROOT).replaceFirst("^SIG", "");
    if (Signals.number(name) < 0) {
      throw new IllegalArgumentException("unknown signal " + signal);
    }
    try {
      Process p =
          new ProcessBuilder("kill", "-s", name, "--", "-" + pgid)
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.DISCARD)
              .start();
      return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0;
    } catch (IOException e) {
      throw new IllegalStateException("cannot run kill: " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /**
   * Waits until group {@code pgid} has no living member or the timeout passes; returns whether it
   * emptied. Zombies count as gone: PID 1 reaps orphans only every second or two here.
   */
  public static boolean awaitGroupExit(long pgid, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      List<ProcStat> members = ProcStat.groupMembers(pgid);
      if (members.isEmpty()) {
        return true;
      }
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        return false;
      }
      CompletableFuture<?>[] exits =
          members.stream()
              .map(
                  m ->
                      ProcessHandle.of(m.pid())
                          .map(ProcessHandle::onExit)
                          .orElse(CompletableFuture.completedFuture(null)))
              .toArray(CompletableFuture[]::new);
      try {
        // Wake on the first exit, or after a short bound to re-read states (zombies never "exit").
        CompletableFuture.anyOf(exits)
            .get(Math.min(TimeUnit.NANOSECONDS.toMillis(left), 100), TimeUnit.MILLISECONDS);
      } catch (TimeoutException e) {
        // Re-check below.
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      } catch (Exception e) {
        // An exit future failed: re-check the group.
      }
    }
  }

  /** Sends {@code signal}, waits up to {@code timeout}, then KILLs what is left. */
  public static void stopGroup(long pgid, String signal, Duration timeout) {
    stopGroups(List.of(pgid), signal, timeout);
  }

  /**
   * Sends {@code signal} to every group, waits up to {@code timeout} for all of them together (not
   * one after the other), then KILLs what is left; returns the groups that had to be killed.
   */
  public static List<Long> stopGroups(List<Long> pgids, String signal, Duration timeout) {
    List<Long> live = pgids.stream().filter(g -> !ProcStat.groupMembers(g).isEmpty()).toList();
    for (long g : live) {
      signalGroup(g, signal);
      // A stopped process (SIGSTOP, a debugger let go of, Ctrl-Z) acts on the signal only once
      // continued: without this it sat out the whole timeout before the KILL (systemd sends
      // SIGCONT after the stop signal for the same reason).
      if (ProcStat.groupMembers(g).stream().anyMatch(m -> m.state() == 'T' || m.state() == 't')) {
        signalGroup(g, "CONT");
      }
    }
    long deadline = System.nanoTime() + timeout.toNanos();
    List<Long> killed = new ArrayList<>();
    for (long g : live) {
      Duration left = Duration.ofNanos(Math.max(0, deadline - System.nanoTime()));
      if (!awaitGroupExit(g, left)) {
        signalGroup(g, "KILL");
        awaitGroupExit(g, Duration.ofSeconds(10));
        killed.add(g);
      }
    }
    return killed;
  }
}
