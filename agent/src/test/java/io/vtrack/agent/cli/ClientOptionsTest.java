package io.vtrack.agent.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** How the CLI finds the agent's API, and what it says when told something that is not one. */
class ClientOptionsTest {
  private record Run(int code, String err) {}

  private static Run run(String... args) {
    CommandLine cl = VtrackCli.commandLine();
    StringWriter err = new StringWriter();
    cl.setErr(new PrintWriter(err));
    int code = cl.execute(args);
    return new Run(code, err.toString());
  }

  @Test
  void aServerThatIsNotAnHttpUrlIsNamed() {
    Run r = run("status", "x", "--server", "notaurl");
    assertThat(r.code()).isEqualTo(ExitCodes.FAILED);
    assertThat(r.err())
        .isEqualTo(
            "error: --server: 'notaurl' is not an http(s) URL of the agent"
                + " (e.g. http://127.0.0.1:8787)"
                + System.lineSeparator());
  }

  @Test
  void anAgentThatDoesNotAnswerIsUnreachable() {
    Run r = run("status", "x", "--server", "http://127.0.0.1:1/");
    assertThat(r.code()).isEqualTo(ExitCodes.UNREACHABLE);
    assertThat(r.err()).contains("cannot reach the vtrack API at http://127.0.0.1:1");
  }
}
