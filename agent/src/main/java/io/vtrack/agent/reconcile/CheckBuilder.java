package io.vtrack.agent.reconcile;

import io.vtrack.agent.check.CheckContext;
import io.vtrack.agent.check.CheckFactory;
import io.vtrack.agent.check.HealthCheck;
import io.vtrack.agent.model.Commits;
import io.vtrack.agent.model.DeploymentSpec;
import io.vtrack.agent.model.RuntimeSpec;
import io.vtrack.agent.release.DeploymentPaths;
import io.vtrack.agent.runtime.Runtimes;
import io.vtrack.agent.store.BackupRepository;
import io.vtrack.agent.store.RolloutRecord;
import io.vtrack.agent.store.StateStore;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import tools.jackson.databind.json.JsonMapper;

/**
 * Builds the checks of a health policy for one commit, with what they compare against: the last
 * healthy commit's baselines, this rollout's backup values and the log positions taken at the
 * switch. Blocking (JDBC, files): call from a worker.
 */
final class CheckBuilder {
  private static final JsonMapper JSON = JsonMapper.builder().build();

  private final StateStore store;
  private final Runtimes runtime;
  private final CheckFactory checks;

  CheckBuilder(StateStore store, Runtimes runtime, CheckFactory checks) {
    this.store = store;
    this.runtime = runtime;
    this.checks = checks;
  }

  /**
   * @param r the rollout verifying {@code commit}, or null when monitoring what runs
   * @param verifying whether this is a verification (counts logs from the release's start, compares
   *     baselines)
   * @param live the live instance beside the one verified (blue-green), or null
   */
  @SuppressWarnings("unchecked")
  List<HealthCheck> build(
      String name,
      DeploymentSpec spec,
      String revision,
      String lastHealthyCommit,
      String commit,
      DeploymentPaths paths,
      Target target,
      RolloutRecord r,
      boolean verifying,
      io.vtrack.agent.store.Instance live)
      throws Exception {
    Map<String, Double> lastHealthy = new HashMap<>();
    Map<String, String> origins = new HashMap<>();
    Map<String, Object> marks = marks(r, commit, verifying);
    if (lastHealthyCommit == null) {
      origins.put(CheckFactory.Inputs.NO_BASELINE, "no commit was verified healthy here yet");
    } else if (lastHealthyCommit.equals(commit)) {
      // A rollback, or the healthy commit verified again: it is what others are compared with.
      origins.put(
          CheckFactory.Inputs.NO_BASELINE,
          Commits.short7(commit) + " is the last healthy commit itself");
    } else {
      origins.put(
          CheckFactory.Inputs.NO_BASELINE,
          "none was recorded when " + Commits.short7(lastHealthyCommit) + " was verified");
    }
    if (lastHealthyCommit != null && !lastHealthyCommit.equals(commit)) {
      String json = store.commits().baseline(name, lastHealthyCommit).orElse(null);
      String was = Commits.short7(lastHealthyCommit);
      if (json != null) {
        numbers(JSON.readValue(json, Map.class), lastHealthy, (a, b) -> b);
        lastHealthy.keySet().forEach(k -> origins.put(k, "recorded when " + was + " was verified"));
      }
      // Recreate: what the last healthy commit answered just before it stopped, on the host as it
      // is now; the higher of the two is the baseline (see LatencyNow).
      Map<String, Double> now = new HashMap<>();
      numbers(marks.get(LatencyNow.MARK), now, (a, b) -> b);
      now.forEach(
          (k, v) -> {
            Double recorded = lastHealthy.get(k);
            if (recorded == null || v > recorded) {
              lastHealthy.put(k, v);
              origins.put(k, "what " + was + " answered just before it stopped");
            }
          });
    }
    Map<String, Double> backupValues = new HashMap<>();
    if (r != null) {
      BackupRepository.BackupRow b = store.backups().get(r.id()).orElse(null);
      if (b != null && b.detailsJson() != null) {
        Map<String, Object> details = JSON.readValue(b.detailsJson(), Map.class);
        if (details.get("noDecrease") instanceof Map<?, ?> m) {
          m.forEach((k, v) -> backupValues.put(String.valueOf(k), ((Number) v).doubleValue()));
        }
      }
    }
    Path release = paths.release(commit);
    CheckContext ctx =
        new CheckContext(
            name, commit, revision, release, paths, verifying, target.ports(), target.logsDir());
    Map<String, String> env = RolloutSteps.serviceEnv(name, commit, revision, paths);
    env.putAll(target.portEnv());
    CheckFactory.Inputs in =
        new CheckFactory.Inputs(
            lastHealthy,
            origins,
            backupValues,
            service -> {
              try {
                return runtime.residentBytes(target.runtimeKey(), service);
              } catch (io.vtrack.agent.runtime.EngineUnreachableException e) {
                throw e; // said as such, not as a service that does not run
              } catch (Exception e) {
                return -1;
              }
            },
            env,
            logOffsets(marks),
            svc -> runtime.serviceLog(target.runtimeKey(), svc),
            sideBySide(live, lastHealthyCommit, commit, target, paths));
    List<HealthCheck> out = new ArrayList<>(checks.build(spec.health(), ctx, in));
    if (spec.runtime().type() == RuntimeSpec.RuntimeType.compose
        && runtime.composeIfStarted() != null) {
      out.add(
          0,
          checks.containers(
              runtime.composeIfStarted(),
              target.runtimeKey(),
              runtime.services(target.runtimeKey(), spec.runtime(), release),
              commit,
              spec.health()));
    }
    return out;
  }

  /** The marks the rollout took before it started its commit, when verifying it (else none). */
  @SuppressWarnings("unchecked")
  private Map<String, Object> marks(RolloutRecord r, String commit, boolean verifying)
      throws Exception {
    if (!verifying || r == null || !commit.equals(r.toCommit())) {
      return Map.of();
    }
    String json = store.rollouts().marks(r.id()).orElse(null);
    return json == null ? Map.of() : JSON.readValue(json, Map.class);
  }

  private static Map<String, Long> logOffsets(Map<String, Object> marks) {
    Map<String, Long> out = new HashMap<>();
    if (marks.get("logOffsets") instanceof Map<?, ?> m) {
      m.forEach((k, v) -> out.put(String.valueOf(k), ((Number) v).longValue()));
    }
    return out;
  }

  /** Merges the numbers of a JSON object (anything else: nothing) into {@code into}. */
  private static void numbers(
      Object json, Map<String, Double> into, java.util.function.BinaryOperator<Double> merge) {
    if (json instanceof Map<?, ?> m) {
      m.forEach(
          (k, v) -> {
            if (v instanceof Number n) {
              into.merge(String.valueOf(k), n.doubleValue(), merge);
            }
          });
    }
  }

  /**
   * Substitutions for the live instance when it runs the last healthy commit on ports of its own
   * beside a different instance being verified: the instance latency is compared with side by side.
   */
  private static io.vtrack.agent.check.Substitutions sideBySide(
      io.vtrack.agent.store.Instance live,
      String lastHealthyCommit,
      String commit,
      Target target,
      DeploymentPaths paths) {
    if (live == null
        || live.ports() == null
        || live.ports().isEmpty()
        || !live.commit().equals(lastHealthyCommit)
        || live.commit().equals(commit)
        || target.ports().isEmpty()
        || target.ports().equals(live.ports())) {
      return null;
    }
    return new io.vtrack.agent.check.Substitutions(
        live.commit(), live.commit(), paths.release(live.commit()), live.ports());
  }
}
