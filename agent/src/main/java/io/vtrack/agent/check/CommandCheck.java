package io.vtrack.agent.check;

import io.vertx.core.WorkerExecutor;
import io.vtrack.agent.Texts;
import io.vtrack.agent.model.CheckSpec;
import io.vtrack.agent.runtime.CommandPolicy;
import io.vtrack.agent.runtime.CommandRunner;
import java.nio.file.Path;
import java.util.Map;

/** An argv command run in the release; exit code 0 passes. */
final class CommandCheck extends BlockingCheck {
  private final Path cwd;
  private final Map<String, String> env;

  private final CommandPolicy policy;

  CommandCheck(
      CheckSpec spec,
      WorkerExecutor pool,
      Path cwd,
      Map<String, String> env,
      CommandPolicy policy) {
    super(spec, pool);
    this.cwd = cwd;
    this.env = env;
    this.policy = policy;
  }

  @Override
  protected CheckResult check(long start) {
    CommandRunner.Result r =
        CommandRunner.run(
            policy, spec.command().command(), cwd, env, spec.effectiveTimeout().duration());
    // The last line of output is what a failing command usually says about itself.
    String[] lines = r.output().strip().split("\n");
    String tail = Texts.abbreviate(lines[lines.length - 1].strip(), 300);
    CheckResult res =
        result(
            r.ok() ? CheckStatus.Passing : CheckStatus.Failing,
            Integer.toString(r.exitCode()),
            r.describe() + (tail.isEmpty() ? "" : ": " + tail),
            start);
    return r.timedOut() ? res.as(Failure.NotReady) : res;
  }
}
