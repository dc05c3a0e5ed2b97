package io.vtrack.agent.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code vtrack}: the daemon and the commands that talk to its API (DESIGN.md §4). */
@Command(
    name = "vtrack",
    mixinStandardHelpOptions = true,
    // -h/--help and -V on every subcommand too: `vtrack status --help` is how users ask.
    scope = CommandLine.ScopeType.INHERIT,
    version = "vtrack 0.1.0",
    description = "Health-gated deployments with data-aware rollback.",
    subcommands = {
      DaemonCommands.Run.class,
      DaemonCommands.Proxy.class,
      InspectCommands.Status.class,
      InspectCommands.History.class,
      ActionCommands.Rollback.class,
      ActionCommands.Reconcile.class,
      ValidateCommand.class,
      InspectCommands.Plan.class,
      InspectCommands.Diff.class,
      ActionCommands.Suspend.class,
      ActionCommands.Resume.class,
      Watch.class
    })
public final class VtrackCli implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "a command is required");
  }

  public static void main(String[] args) {
    System.exit(execute(args));
  }

  public static int execute(String... args) {
    return commandLine().execute(args);
  }

  /** The configured command line: usage errors exit 2, other failures 1 (DESIGN.md §4). */
  public static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new VtrackCli());
    cl.setExitCodeExceptionMapper(
        e -> e instanceof CommandLine.ParameterException ? ExitCodes.USAGE : ExitCodes.FAILED);
    return cl;
  }
}
