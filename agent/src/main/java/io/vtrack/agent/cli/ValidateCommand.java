package io.vtrack.agent.cli;

import io.vtrack.agent.model.SpecError;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "validate", description = "Lint desired-state documents (no agent needed).")
final class ValidateCommand implements Callable<Integer> {
  @Parameters(arity = "1..*", description = "YAML files")
  List<String> files = new ArrayList<>();

  @Option(
      names = "--git-sourced",
      description = "allow an omitted spec.source.repoURL (documents kept in the app's repo)")
  boolean gitSourced;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    boolean ok = true;
    for (String name : files) {
      String shown = name.replace("\0", "\\0");
      byte[] bytes;
      try {
        Path f = Path.of(name);
        if (!Files.isRegularFile(f)) {
          err.println(shown + (Files.exists(f) ? ": not a regular file" : ": no such file"));
          ok = false;
          continue;
        }
        if (Files.size(f) > io.vtrack.agent.source.DocumentReader.MAX_FILE_BYTES) {
          err.println(shown + ": " + io.vtrack.agent.source.DocumentReader.tooLarge(Files.size(f)));
          ok = false;
          continue;
        }
        bytes = Files.readAllBytes(f);
      } catch (InvalidPathException e) {
        err.println(shown + ": not a valid path (" + e.getReason() + ")");
        ok = false;
        continue;
      } catch (IOException e) {
        err.println(shown + ": cannot read: " + e.getMessage());
        ok = false;
        continue;
      }
      var where =
          new io.vtrack.agent.source.SourceRef("file", "cli", null, name, null, null, null, null);
      var docs =
          io.vtrack.agent.source.DocumentReader.read(
              bytes, where, gitSourced ? "git-sourced" : null);
      for (var d : docs) {
        int line = d.source().line() == null ? 1 : d.source().line();
        if (d.valid()) {
          out.println(name + ":" + line + ": " + d.name() + ": valid");
        } else {
          ok = false;
          for (SpecError e : d.errors()) {
            err.println(
                name
                    + ":"
                    + (e.line() == null ? line : e.line())
                    + ": "
                    + (d.name() == null ? "" : d.name() + ": ")
                    + (e.field() == null || e.field().isEmpty() ? "" : e.field() + ": ")
                    + e.message());
          }
        }
      }
    }
    return ok ? ExitCodes.OK : ExitCodes.FAILED;
  }
}
