package io.vtrack.agent.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.vtrack.agent.model.Interval;
import io.vtrack.agent.model.RuntimeSpec.ServiceSpec;
import io.vtrack.agent.model.RuntimeSpec.StopSpec;
import io.vtrack.agent.store.StateStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real child processes: groups, signals, crash detection and adoption. */
class ProcessRuntimeIT {
  @TempDir Path dir;

  private static ServiceSpec sh(String name, String script, String signal, String timeout) {
    return new ServiceSpec(
        name,
        ".",
        List.of("sh", "-c", script),
        Map.of(),
        List.of(),
        new StopSpec(signal, Interval.parse(timeout)),
        null);
  }

  @Test
  void stopsTheWholeGroupWithTheConfiguredSignalAndLeavesNoOrphan() throws Exception {
    try (StateStore store = StateStore.open(dir.resolve("state"))) {
      ProcessRuntime rt = new ProcessRuntime(store, (d, s) -> {});
      // A wrapper (like npm start) whose child would keep the port if only the wrapper died; the
      // child ignores TERM but exits on USR1, which only the group signal reaches.
      String script =
          "trap 'exit 0' USR1; sh -c \"trap 'exit 0' USR1; trap '' TERM; while :; do sleep 0.2; done\" & wait";
      rt.start(
          "app",
          "c1",
          dir,
          List.of(sh("web", script, "USR1", "5s")),
          dir.resolve("logs"),
          Map.of());
      long pgid = store.processes().of("app").get(0).pgid();
      await().atMost(Duration.ofSeconds(10)).until(() -> ProcStat.groupMembers(pgid).size() >= 3);
      rt.stopAll("app", List.of(sh("web", script, "USR1", "5s")));
      assertThat(ProcStat.groupMembers(pgid)).isEmpty();
      assertThat(store.processes().of("app")).isEmpty();
    }
  }

  @Test
  void aChildThatLeftTheServicesGroupStopsWithItAndNoOtherInstancesChildDoes() throws Exception {
    try (StateStore store = StateStore.open(dir.resolve("state"))) {
      ProcessRuntime rt = new ProcessRuntime(store, (d, s) -> {});
      // A worker started in a session of its own (setsid, as a daemonizing app does): the group
      // signal never reaches it, and it ignores TERM.
      String script =
          "setsid sh -c \"trap '' TERM; while :; do sleep 0.2; done\" & echo $! > escaped-$VTRACK_INSTANCE; wait";
      ServiceSpec web = sh("web", script, "TERM", "500ms");
      rt.start("app@blue", "c1", dir, List.of(web), dir.resolve("logs"), Map.of());
      rt.start("app@green", "c2", dir, List.of(web), dir.resolve("logs2"), Map.of());
      long blue = escapedPid(dir.resolve("escaped-app@blue"));
      long green = escapedPid(dir.resolve("escaped-app@green"));
      assertThat(ProcStat.read(blue).orElseThrow().pgid())
          .isNotEqualTo(store.processes().of("app@blue").get(0).pgid());

      // Its memory is the service's too (both shells only wait: their resident sizes hold).
      long leader = store.processes().of("app@blue").get(0).pid();
      assertThat(rt.residentBytes("app@blue", "web"))
          .isGreaterThanOrEqualTo(
              (ProcStat.read(leader).orElseThrow().rssPages()
                      + ProcStat.read(blue).orElseThrow().rssPages())
                  * 4096L);

      assertThat(rt.stopAll("app@blue", List.of(web)))
          .isEqualTo("web: stopped 1 process it started out of its process group");

      assertThat(ProcStat.read(blue).filter(ProcStat::alive)).isEmpty();
      assertThat(ProcStat.read(green).filter(ProcStat::alive)).isPresent();
      rt.stopAll("app@green", List.of(web));
      assertThat(ProcStat.read(green).filter(ProcStat::alive)).isEmpty();
    }
  }

  private static long escapedPid(Path file) throws Exception {
    await().atMost(Duration.ofSeconds(10)).until(() -> Files.exists(file) && Files.size(file) > 0);
    long pid = Long.parseLong(Files.readString(file).trim());
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> ProcStat.read(pid).map(ProcStat::pgid).orElse(0L) == pid);
    return pid;
  }

  @Test
  void killsAfterTheTimeoutWhenTheSignalIsIgnored() throws Exception {
    try (StateStore store = StateStore.open(dir.resolve("state"))) {
      ProcessRuntime rt = new ProcessRuntime(store, (d, s) -> {});
      ServiceSpec stubborn =
          sh("stubborn", "trap '' TERM; while :; do sleep 0.2; done", "TERM", "500ms");
      rt.start("app", "c1", dir, List.of(stubborn), dir.resolve("logs"), Map.of());
      long pgid = store.processes().of("app").get(0).pgid();
      long t0 = System.nanoTime();
      assertThat(rt.stopAll("app", List.of(stubborn)))
          .isEqualTo("stubborn still ran 500ms after TERM: killed");
      assertThat(ProcStat.groupMembers(pgid)).isEmpty();
      assertThat(Duration.ofNanos(System.nanoTime() - t0))
          .isGreaterThanOrEqualTo(Duration.ofMillis(500));
    }
  }

  @Test
  void reportsACrashAndWritesOutputStraightToTheLogFile() throws Exception {
    try (StateStore store = StateStore.open(dir.resolve("state"))) {
      List<String> exits = new CopyOnWriteArrayList<>();
      ProcessRuntime rt = new ProcessRuntime(store, (d, s) -> exits.add(d + "/" + s));
      rt.start(
          "app",
          "c1",
          dir,
          List.of(sh("crash", "echo starting; echo oops >&2; exit 3", "TERM", "1s")),
          dir.resolve("logs"),
          Map.of());
      await().atMost(Duration.ofSeconds(10)).until(() -> exits.contains("app/crash"));
      assertThat(rt.unexpectedExits("app"))
          .singleElement()
          .asString()
          .contains("exited with code 3");
      assertThat(Files.readString(dir.resolve("logs/crash.log")))
          .contains("starting")
          .contains("oops");
      assertThat(rt.observe("app").get("crash").alive()).isFalse();
    }
  }

  @Test
  void aServiceThatPutsItsAppInTheBackgroundAndReturnsIsToldSo() throws Exception {
    try (StateStore store = StateStore.open(dir.resolve("state"))) {
      List<String> exits = new CopyOnWriteArrayList<>();
      ProcessRuntime rt = new ProcessRuntime(store, (d, s) -> exits.add(d + "/" + s));
      ServiceSpec daemonizing = sh("web", "sleep 60 & exit 0", "TERM", "1s");
      rt.start("app", "c1", dir, List.of(daemonizing), dir.resolve("logs"), Map.of());
      await().atMost(Duration.ofSeconds(10)).until(() -> exits.contains("app/web"));
      assertThat(rt.unexpectedExits("app"))
          .singleElement()
          .asString()
          .contains("exited with code 0 (a service's command must keep running in the foreground)");
      // What it left running in its group stops with it.
      long pgid = store.processes().of("app").get(0).pgid();
      assertThat(ProcStat.groupMembers(pgid)).isNotEmpty();
      rt.stopAll("app", List.of(daemonizing));
      assertThat(ProcStat.groupMembers(pgid)).isEmpty();
    }
  }

  @Test
  void aNewRuntimeAdoptsServicesLeftRunningByAnAgentThatDied() throws Exception {
    try (StateStore store = StateStore.open(dir.resolve("state"))) {
      // An orphan, as a service is after its agent died: not a child of this JVM.
      Process launcher =
          new ProcessBuilder(
                  "sh",
                  "-c",
                  "setsid sh -c 'while :; do sleep 0.2; done' >/dev/null 2>&1 < /dev/null & echo $!")
              .start();
      long pid = Long.parseLong(new String(launcher.getInputStream().readAllBytes()).trim());
      launcher.waitFor();
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> ProcStat.read(pid).map(ProcStat::pgid).orElse(0L) == pid);
      long ticks = ProcStat.read(pid).orElseThrow().startTicks();
      store
          .processes()
          .put(
              new io.vtrack.agent.store.ProcessRepository.ProcessRow(
                  "app", "loop", "c1", pid, pid, ticks, null));
      // A row whose process is gone (or whose pid was reused) is reported dead, never adopted.
      store
          .processes()
          .put(
              new io.vtrack.agent.store.ProcessRepository.ProcessRow(
                  "app", "gone", "c1", pid, pid, ticks + 1, null));

      List<String> exits = new CopyOnWriteArrayList<>();
      ProcessRuntime rt = new ProcessRuntime(store, (d, s) -> exits.add(s));
      assertThat(rt.adopt())
          .extracting(io.vtrack.agent.store.ProcessRepository.ProcessRow::service)
          .containsExactly("gone");
      assertThat(rt.observe("app").get("loop").alive()).isTrue();
      new ProcessBuilder("kill", "-KILL", Long.toString(pid)).start().waitFor();
      await().atMost(Duration.ofSeconds(15)).until(() -> exits.contains("loop"));
      assertThat(rt.observe("app").get("loop").alive()).isFalse();
    }
  }
}
