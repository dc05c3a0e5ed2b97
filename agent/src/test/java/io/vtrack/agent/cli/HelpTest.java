package io.vtrack.agent.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

/** Every command answers {@code --help} and {@code -h} with its usage and exit code 0. */
class HelpTest {
  @ParameterizedTest
  @ValueSource(
      strings = {
        "run",
        "proxy",
        "status",
        "history",
        "rollback",
        "reconcile",
        "validate",
        "plan",
        "diff",
        "suspend",
        "resume",
        "watch"
      })
  void everyCommandAnswersHelp(String command) {
    for (String flag : new String[] {"--help", "-h"}) {
      StringWriter out = new StringWriter();
      CommandLine cl = VtrackCli.commandLine();
      cl.setOut(new PrintWriter(out));
      assertThat(cl.execute(command, flag)).as(command + " " + flag).isEqualTo(0);
      assertThat(out.toString()).contains("Usage: vtrack " + command);
    }
  }
}
