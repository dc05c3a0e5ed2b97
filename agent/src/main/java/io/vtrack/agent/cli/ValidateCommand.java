package io.vtrack.agent.cli;

import io.vtrack.agent.model.SpecError;
import io.vtrack.agent.reconcile.ExclusiveClaims;
import io.vtrack.agent.source.DesiredDocument;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.function.Function;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "validate", description = "Lint desired-state documents (no agent needed).")
final class ValidateCommand implements Callable<Integer> {
  @Parameters(
      arity = "1..*",
      description = "YAML files, or folders (every .yaml/.yml under one, as a file source reads)")
  List<String> files = new ArrayList<>();

  @Option(
      names = "--git-sourced",
      description = "allow an omitted spec.source.repoURL (documents kept in the app's repo)")
  boolean gitSourced;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  /** False once a folder named could not be read or held no document file. */
  private boolean foldersOk = true;

  /** The files named, a folder replaced by the document files under it. */
  private Set<String> expanded(PrintWriter err) {
    Set<String> out = new LinkedHashSet<>();
    for (String name : files) {
      Path p;
      try {
        p = Path.of(name);
      } catch (InvalidPathException e) {
        out.add(name); // said below
        continue;
      }
      if (!Files.isDirectory(p)) {
        out.add(name);
        continue;
      }
      try {
        List<Path> in = io.vtrack.agent.source.FileSource.documentFiles(p);
        if (in.isEmpty()) {
          err.println(name + ": a folder with no .yaml or .yml file in it");
          foldersOk = false;
        }
        in.forEach(f -> out.add(f.toString()));
      } catch (IOException | java.io.UncheckedIOException e) {
        err.println(name + ": cannot read the folder: " + e.getMessage());
        foldersOk = false;
      }
    }
    return out;
  }

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    boolean ok = true;
    List<Read> valid = new ArrayList<>();
    // A file named twice is read once: its documents would otherwise clash with themselves.
    Set<Path> seen = new HashSet<>();
    for (String name : expanded(err)) {
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
        if (!seen.add(f.toRealPath())) {
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
      if (docs.isEmpty()) {
        out.println(name + ": no vtrack.io document in it (documents of other APIs are skipped)");
      }
      for (var d : docs) {
        int line = d.source().line() == null ? 1 : d.source().line();
        if (d.valid()) {
          out.println(name + ":" + line + ": " + d.name() + ": valid");
          valid.add(new Read(name + ":" + line, d));
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
    ok &= together(valid, err) && foldersOk;
    return ok ? ExitCodes.OK : ExitCodes.FAILED;
  }

  /** A valid document and where it was read ("file:line"). */
  private record Read(String at, DesiredDocument doc) {}

  /**
   * What documents linted together cannot both have, as an agent reading them would find (it runs
   * neither of two documents with one name, and only the deployment that has a public address or
   * compose project of two that claim it): each clash is said once, at the later document. Two
   * documents addressed to different agents ({@code vtrack.io/agent}) never meet.
   */
  private static boolean together(List<Read> docs, PrintWriter err) {
    boolean ok = true;
    Map<String, List<Read>> byKey = new HashMap<>();
    for (Read b : docs) {
      // What b claims, by key, with what to say of an earlier document that claims it too.
      Map<String, Function<Read, String>> claims = new LinkedHashMap<>();
      claims.put(
          "name " + b.doc().name(),
          a ->
              "metadata.name: also given at "
                  + a.at()
                  + ": an agent runs neither of two documents with one name");
      for (ExclusiveClaims.Claim c : ExclusiveClaims.claims(b.doc())) {
        claims.putIfAbsent(
            c.kind() + " " + c.key(),
            a ->
                c.field()
                    + ": the "
                    + c.kind().words()
                    + " "
                    + c.key()
                    + " is claimed by '"
                    + a.doc().name()
                    + "' ("
                    + a.at()
                    + ") too: two deployments cannot share one (an agent runs only the one that"
                    + " has it)");
      }
      Set<Read> told = new HashSet<>();
      for (var claim : claims.entrySet()) {
        for (Read a : byKey.getOrDefault(claim.getKey(), List.of())) {
          if (sameAgent(a, b) && told.add(a)) {
            err.println(b.at() + ": " + b.doc().name() + ": " + claim.getValue().apply(a));
            ok = false;
          }
        }
        byKey.computeIfAbsent(claim.getKey(), k -> new ArrayList<>()).add(b);
      }
    }
    return ok;
  }

  /** Whether one agent takes both: neither is addressed to an agent, or both to the same. */
  private static boolean sameAgent(Read a, Read b) {
    String x = a.doc().agentLabel();
    String y = b.doc().agentLabel();
    return x == null || y == null || Objects.equals(x, y);
  }
}
