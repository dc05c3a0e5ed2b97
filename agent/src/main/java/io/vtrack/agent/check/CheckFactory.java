package io.vtrack.agent.check;

import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.PoolOptions;
import io.vtrack.agent.model.CheckSpec;
import io.vtrack.agent.model.HealthPolicy;
import io.vtrack.agent.release.ConfinedPath;
import io.vtrack.agent.runtime.CommandPolicy;
import io.vtrack.agent.runtime.ComposeRuntime;
import io.vtrack.agent.runtime.LogSource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.ToLongFunction;

/**
 * Builds the checks of a health policy for one revision, with substitutions applied and baselines
 * attached. Reads release files: call it off the event loop.
 */
public final class CheckFactory {
  private final WorkerExecutor pool;
  private final HttpClient http;
  private final CommandPolicy policy;

  /**
   * @param pool the agent's bounded pool for blocking check work (JDBC, files, commands)
   * @param policy allowedCommands for {@code command} checks
   */
  public CheckFactory(WorkerExecutor pool, HttpClient http, CommandPolicy policy) {
    this.pool = pool;
    this.http = http;
    this.policy = policy;
  }

  /** The most requests the check client has open to one address at a time. */
  static final int MAX_REQUESTS_PER_ADDRESS = 256;

  /**
   * The HTTP client for checks: a fresh connection a request, so a check never rides on a
   * connection an old release left open; and as many at once to one address as a round asks, so
   * checks run side by side as DESIGN.md says. Vert.x's default pool holds 5 a host: a sixth check
   * waited behind them, and behind a hung endpoint it timed out without ever being sent.
   */
  public static HttpClient httpClient(Vertx vertx) {
    return vertx.createHttpClient(
        new HttpClientOptions().setKeepAlive(false),
        new PoolOptions().setHttp1MaxSize(MAX_REQUESTS_PER_ADDRESS));
  }

  /**
   * Baselines and the inputs checks compare against.
   *
   * @param lastHealthy baselines recorded when the last healthy commit was verified ("kind:name")
   * @param baselineOrigins where each baseline comes from; {@link #NO_BASELINE}: why there is none
   * @param backupValues values of {@code noDecrease} queries on this rollout's backup, by check
   * @param residentBytes resident memory of a service, -1 when it does not run
   * @param env environment for command checks
   * @param live substitutions for the live instance of the last healthy commit, beside the one
   *     being verified (blue-green), or null: latency is then sampled on both, side by side
   */
  public record Inputs(
      Map<String, Double> lastHealthy,
      Map<String, String> baselineOrigins,
      Map<String, Double> backupValues,
      ToLongFunction<String> residentBytes,
      Map<String, String> env,
      Map<String, Long> logOffsets,
      Function<String, LogSource> serviceLogs,
      Substitutions live) {
    /** The key of {@code baselineOrigins} that says why a check has no baseline. */
    public static final String NO_BASELINE = "";

    public static Inputs none(ToLongFunction<String> residentBytes) {
      return new Inputs(
          Map.of(), Map.of(), Map.of(), residentBytes, Map.of(), Map.of(), s -> null, null);
    }
  }

  /** The containers check every round of a compose deployment includes. */
  public HealthCheck containers(
      ComposeRuntime runtime,
      String deployment,
      List<String> services,
      String commit,
      HealthPolicy policy) {
    List<String> names = policy.checks().stream().map(CheckSpec::name).toList();
    return ContainersCheck.of(pool, runtime, deployment, services, commit, names);
  }

  public List<HealthCheck> build(HealthPolicy policy, CheckContext ctx, Inputs in) {
    Substitutions subst =
        new Substitutions(ctx.commit(), ctx.revision(), ctx.releaseDir(), ctx.ports());
    List<HealthCheck> checks = new ArrayList<>();
    for (CheckSpec c : policy.checks()) {
      try {
        checks.add(build(c, ctx, in, subst));
      } catch (ConfinedPath.UnsafePathException e) {
        checks.add(new RefusedCheck(c, e.getMessage()));
      }
    }
    return checks;
  }

  @SuppressWarnings("unchecked")
  private HealthCheck build(CheckSpec c, CheckContext ctx, Inputs in, Substitutions subst)
      throws ConfinedPath.UnsafePathException {
    Path release = ctx.releaseDir();
    Path shared = ctx.paths().shared();
    if (c.http() != null) {
      Map<String, Object> expected = (Map<String, Object>) subst.applyDeep(c.http().json());
      return new HttpCheck(c, subst.apply(c.http().url()), expected, http);
    }
    if (c.sqlite() != null) {
      return new SqliteCheck(
          c,
          pool,
          inside(release, c.sqlite().database(), shared),
          in.backupValues().get(c.name()),
          ctx.verifying());
    }
    if (c.log() != null) {
      LogSource source = c.log().file() == null ? in.serviceLogs().apply(c.log().service()) : null;
      if (source != null) {
        try {
          return new LogCheck(
              c, pool, source, ctx.verifying(), in.logOffsets().getOrDefault(c.name(), -1L));
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }
      Path file =
          c.log().file() != null
              ? inside(release, subst.apply(c.log().file()), shared)
              : ctx.logsDir().resolve(c.log().service() + ".log");
      return new LogCheck(
          c, pool, file, ctx.verifying(), in.logOffsets().getOrDefault(c.name(), -1L));
    }
    if (c.latency() != null) {
      String url = subst.apply(c.latency().url());
      // Side by side with the live instance when its URL differs (the URL names the ports).
      String liveUrl = in.live() == null ? null : in.live().apply(c.latency().url());
      Double baseline = in.lastHealthy().get(baselineKey(c));
      return new LatencyCheck(
          c,
          url,
          http,
          baseline,
          in.baselineOrigins().get(baseline == null ? Inputs.NO_BASELINE : baselineKey(c)),
          ctx.verifying(),
          url.equals(liveUrl) ? null : liveUrl);
    }
    if (c.memory() != null) {
      return new MemoryCheck(
          c, pool, in.residentBytes(), in.lastHealthy().get(baselineKey(c)), ctx.verifying());
    }
    List<String> argv = c.command().command().stream().map(subst::apply).toList();
    CheckSpec withArgs =
        new CheckSpec(
            c.name(),
            c.timeout(),
            null,
            null,
            null,
            null,
            null,
            new CheckSpec.Command(argv, c.command().cwd()));
    return new CommandCheck(
        withArgs, pool, inside(release, c.command().cwd(), shared), in.env(), policy);
  }

  /** A file of the release (or of shared/ through its link), never through a link out of both. */
  private static Path inside(Path release, String rel, Path shared)
      throws ConfinedPath.UnsafePathException {
    try {
      return ConfinedPath.realInside(release, rel, shared);
    } catch (ConfinedPath.UnsafePathException e) {
      throw e;
    } catch (IOException e) {
      return release.resolve(rel).normalize();
    }
  }

  /**
   * The current size of every log a policy's log checks read, by check name: taken before the
   * switch so that verification counts every line the new revision writes, from its first.
   */
  public static Map<String, Long> logMarks(
      HealthPolicy policy, Path newRelease, Path logsDir, Function<String, LogSource> serviceLogs)
      throws IOException {
    Map<String, Long> out = new HashMap<>();
    for (CheckSpec c : policy.checks()) {
      if (c.log() == null) {
        continue;
      }
      LogSource source = c.log().file() == null ? serviceLogs.apply(c.log().service()) : null;
      if (source != null) {
        out.put(c.name(), source.markNow());
        continue;
      }
      Path file =
          c.log().file() != null
              ? newRelease.resolve(c.log().file()).normalize()
              : logsDir.resolve(c.log().service() + ".log");
      out.put(c.name(), LogCheck.sizeOf(file));
    }
    return out;
  }

  /** The key a check's baseline is stored under. */
  public static String baselineKey(CheckSpec c) {
    return c.kind() + ":" + c.name();
  }

  /** The baselines measured by a set of checks, to record when their revision is verified. */
  public static Map<String, Double> baselines(List<HealthCheck> checks) {
    Map<String, Double> out = new HashMap<>();
    for (HealthCheck c : checks) {
      if (c instanceof Baselined b && b.baselineValue() != null) {
        out.put(baselineKey(c.spec()), b.baselineValue());
      }
    }
    return out;
  }
}
