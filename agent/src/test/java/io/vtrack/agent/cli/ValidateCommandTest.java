package io.vtrack.agent.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code vtrack validate} on several documents at once: each is linted alone, and what they cannot
 * both have (one name, one public address, one compose project) is said as an agent would find it.
 */
class ValidateCommandTest {
  @TempDir Path tmp;

  private static final String EXAMPLE;

  static {
    try {
      EXAMPLE = Files.readString(Path.of("..", "examples", "process", "vtrack.yaml"));
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  record Run(int code, String out, String err) {}

  private static Run validate(Path... files) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    picocli.CommandLine cl = VtrackCli.commandLine();
    cl.setOut(new PrintWriter(out, true, StandardCharsets.UTF_8));
    cl.setErr(new PrintWriter(err, true, StandardCharsets.UTF_8));
    String[] args = new String[files.length + 1];
    args[0] = "validate";
    for (int i = 0; i < files.length; i++) {
      args[i + 1] = files[i].toString();
    }
    int code = cl.execute(args);
    return new Run(
        code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  private Path write(String file, String text) throws Exception {
    return Files.writeString(tmp.resolve(file), text);
  }

  /** The example under another name, on other public ports. */
  private static String renamed(String name, String backend, String frontend) {
    return EXAMPLE
        .replace("name: vtrack\n", "name: " + name + "\n")
        .replace("127.0.0.1:18080", backend)
        .replace("127.0.0.1:13000", frontend);
  }

  @Test
  void eachDocumentAloneIsValidAndTogetherTheyAreToo() throws Exception {
    Path a = write("a.yaml", EXAMPLE);
    Path b = write("b.yaml", renamed("shop", "127.0.0.1:18081", "127.0.0.1:13001"));
    Run r = validate(a, b);
    assertThat(r.code()).as(r.err()).isZero();
    assertThat(r.out()).contains("a.yaml:1: vtrack: valid").contains("b.yaml:1: shop: valid");
  }

  @Test
  void oneNameTwiceIsSaidAtTheSecond() throws Exception {
    Path a = write("a.yaml", EXAMPLE);
    Path b = write("b.yaml", EXAMPLE);
    Run r = validate(a, b);
    assertThat(r.code()).isEqualTo(ExitCodes.FAILED);
    assertThat(r.err())
        .contains(b + ":1: vtrack: metadata.name: also given at " + a + ":1")
        .doesNotContain("public address");
  }

  @Test
  void aPublicAddressTwiceIsSaidByFieldAndOwner() throws Exception {
    Path a = write("a.yaml", EXAMPLE);
    Path b = write("b.yaml", renamed("dev", "127.0.0.1:18080", "127.0.0.1:13001"));
    Run r = validate(a, b);
    assertThat(r.code()).isEqualTo(ExitCodes.FAILED);
    assertThat(r.err())
        .contains(
            b
                + ":1: dev: spec.runtime.services[0].expose.listen: the public address"
                + " 127.0.0.1:18080 is claimed by 'vtrack' ("
                + a
                + ":1) too");
  }

  @Test
  void documentsForDifferentAgentsNeverMeet() throws Exception {
    String forEdge1 =
        EXAMPLE.replace(
            "  name: vtrack\n", "  name: vtrack\n  labels: {vtrack.io/agent: edge-1}\n");
    Path a = write("a.yaml", forEdge1);
    Path b = write("b.yaml", forEdge1.replace("edge-1", "edge-2"));
    assertThat(validate(a, b).code()).isZero();
    // One without a label is for every agent, edge-1 too.
    Path c = write("c.yaml", EXAMPLE);
    assertThat(validate(a, c).code()).isEqualTo(ExitCodes.FAILED);
  }

  @Test
  void aFileNamedTwiceIsReadOnce() throws Exception {
    Path a = write("a.yaml", EXAMPLE);
    Run r = validate(a, a, tmp.resolve(".").resolve("a.yaml"));
    assertThat(r.code()).as(r.err()).isZero();
    assertThat(r.out().lines().count()).isEqualTo(1);
  }

  /** A folder is read as a file source reads it: every .yaml/.yml under it, together. */
  @Test
  void aFolderIsEveryDocumentFileUnderIt() throws Exception {
    Files.createDirectories(tmp.resolve("deploy/dev"));
    write("deploy/a.yaml", EXAMPLE);
    write("deploy/dev/b.yml", renamed("dev", "127.0.0.1:18080", "127.0.0.1:13001"));
    write("deploy/notes.txt", "not a document");
    Run r = validate(tmp.resolve("deploy"));
    assertThat(r.code()).as(r.err()).isEqualTo(1);
    // Both files were read, and met: the second claims the first's public address.
    assertThat(r.err()).contains("b.yml").contains("127.0.0.1:18080").doesNotContain("notes.txt");

    Files.delete(tmp.resolve("deploy/dev/b.yml"));
    r = validate(tmp.resolve("deploy"));
    assertThat(r.code()).as(r.err()).isEqualTo(0);
    assertThat(r.out()).contains("a.yaml:1: vtrack: valid");

    Files.createDirectories(tmp.resolve("empty"));
    r = validate(tmp.resolve("empty"));
    assertThat(r.code()).isEqualTo(1);
    assertThat(r.err()).contains("a folder with no .yaml or .yml file in it");
  }

  /**
   * A GitOps folder holds other kinds beside ours: documents of another API group are skipped, a
   * document of ours with a wrong version or kind, or with none, is still an error.
   */
  @Test
  void documentsOfOtherApiGroupsAreSkippedAndOursAreNot() throws Exception {
    String configMap =
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: \"1\"}\n";
    String deployment =
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 1}\n";
    Path mixed = write("mixed.yaml", configMap + "---\n" + EXAMPLE + "---\n" + deployment);
    Run r = validate(mixed);
    assertThat(r.code()).as(r.err()).isZero();
    assertThat(r.out()).contains("mixed.yaml:6: vtrack: valid");
    assertThat(r.err()).isEmpty();

    Path others = write("others.yaml", configMap + "---\n" + deployment);
    r = validate(others);
    assertThat(r.code()).as(r.err()).isZero();
    assertThat(r.out()).contains("others.yaml: no vtrack.io document in it");

    Path wrongVersion = write("v2.yaml", EXAMPLE.replace("vtrack.io/v1alpha1", "vtrack.io/v2"));
    r = validate(wrongVersion);
    assertThat(r.code()).isEqualTo(ExitCodes.FAILED);
    assertThat(r.err()).contains("apiVersion: must be vtrack.io/v1alpha1, got vtrack.io/v2");

    // A slip in the group, or in the kind, is an error, not a document of someone else's: skipped,
    // it would be gone from its source, and its deployment stopped.
    Path slip = write("slip.yaml", EXAMPLE.replace("vtrack.io/v1alpha1", "vtrack/v1alpha1"));
    r = validate(slip);
    assertThat(r.code()).isEqualTo(ExitCodes.FAILED);
    assertThat(r.err()).contains("apiVersion: must be vtrack.io/v1alpha1, got vtrack/v1alpha1");
    Path kindSlip =
        write(
            "kind.yaml",
            EXAMPLE
                .replace("vtrack.io/v1alpha1", "apps/v1")
                .replace("kind: VTrackDeployment", "kind: VtrackDeploymnet"));
    r = validate(kindSlip);
    assertThat(r.code()).isEqualTo(ExitCodes.FAILED);
    assertThat(r.err()).contains("kind: must be VTrackDeployment, got VtrackDeploymnet");

    Path noVersion = write("none.yaml", EXAMPLE.replace("apiVersion: vtrack.io/v1alpha1\n", ""));
    r = validate(noVersion);
    assertThat(r.code()).isEqualTo(ExitCodes.FAILED);
    assertThat(r.err()).contains("apiVersion");

    Path comments = write("comments.yaml", "# nothing yet\n---\n");
    r = validate(comments);
    assertThat(r.code()).isEqualTo(ExitCodes.FAILED);
    assertThat(r.err()).contains("the file holds no document");
  }
}
