package io.vtrack.agent.source;

import static org.assertj.core.api.Assertions.assertThat;

import io.vtrack.agent.model.Documents;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** A document that cannot be read is never a removal (DESIGN.md §4); a really removed one is. */
class DesiredStateRegistryTest {
  private static final String VALID =
      Documents.VALID.replace("labels: {vtrack.io/agent: edge-01}", "labels: {}");

  private static List<DesiredDocument> read(String file, byte[] bytes) {
    SourceRef ref = new SourceRef("file", "file[0]", null, file, null, null, null, null);
    return DocumentReader.read(bytes, ref, null);
  }

  private static List<DesiredDocument> read(String file, String text) {
    return read(file, text.getBytes(StandardCharsets.UTF_8));
  }

  static Stream<Arguments> unreadable() {
    String half = VALID.substring(0, VALID.indexOf("  name: vtrack"));
    return Stream.of(
        Arguments.of("empty", "".getBytes(StandardCharsets.UTF_8), "empty"),
        Arguments.of(
            "only comments", "# nothing\n---\n".getBytes(StandardCharsets.UTF_8), "no document"),
        Arguments.of(
            "truncated before the name", half.getBytes(StandardCharsets.UTF_8), "metadata"),
        Arguments.of("not YAML", "{{{ : ]".getBytes(StandardCharsets.UTF_8), ""),
        Arguments.of("a list", "- a\n- b\n".getBytes(StandardCharsets.UTF_8), ""),
        Arguments.of("not UTF-8", new byte[] {(byte) 0xff, (byte) 0xfe, 'a', '\n'}, "UTF-8"),
        Arguments.of(
            "the name given twice",
            VALID
                .replace("  name: vtrack\n", "  name: vtrack\n  name: vtrack2\n")
                .getBytes(StandardCharsets.UTF_8),
            "given twice"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("unreadable")
  void anUnreadableFileKeepsItsDeploymentAsInvalid(String what, byte[] bytes, String why) {
    DesiredStateRegistry reg = new DesiredStateRegistry("edge-01");
    reg.update("file[0]", read("/d/vtrack.yaml", VALID));
    assertThat(reg.get("vtrack").document().valid()).isTrue();

    List<DesiredDocument> docs = new ArrayList<>(read("/d/vtrack.yaml", bytes));
    reg.update("file[0]", docs);

    DesiredStateRegistry.Entry e = reg.get("vtrack");
    assertThat(e).as(what).isNotNull();
    assertThat(e.document().valid()).isFalse();
    assertThat(e.document().source().file()).isEqualTo("/d/vtrack.yaml");
    assertThat(e.document().errors().toString()).contains(why);
    // Named by file (and line, where there is one), never "file:null".
    assertThat(reg.unattributedErrors())
        .allSatisfy(u -> assertThat(u).startsWith("/d/vtrack.yaml").doesNotContain(":null"));
  }

  @Test
  void aFileFixedAgainIsReadAsUsual() {
    DesiredStateRegistry reg = new DesiredStateRegistry("edge-01");
    reg.update("file[0]", read("/d/vtrack.yaml", VALID));
    String generation = reg.get("vtrack").document().generation();
    reg.update("file[0]", read("/d/vtrack.yaml", ""));
    reg.update("file[0]", read("/d/vtrack.yaml", VALID));
    assertThat(reg.get("vtrack").document().valid()).isTrue();
    assertThat(reg.get("vtrack").document().generation()).isEqualTo(generation);
  }

  @Test
  void aFileReallyGoneIsARemoval() {
    DesiredStateRegistry reg = new DesiredStateRegistry("edge-01");
    reg.update("file[0]", read("/d/vtrack.yaml", VALID));
    assertThat(reg.update("file[0]", List.of())).contains("vtrack");
    assertThat(reg.get("vtrack")).isNull();
  }

  @Test
  void anotherFileBreakingLeavesThisOneAlone() {
    DesiredStateRegistry reg = new DesiredStateRegistry("edge-01");
    List<DesiredDocument> both = new ArrayList<>(read("/d/vtrack.yaml", VALID));
    both.addAll(read("/d/other.yaml", VALID.replace("name: vtrack", "name: other")));
    reg.update("file[0]", both);
    List<DesiredDocument> broken = new ArrayList<>(read("/d/vtrack.yaml", VALID));
    broken.addAll(read("/d/other.yaml", "::"));
    reg.update("file[0]", broken);
    assertThat(reg.get("vtrack").document().valid()).isTrue();
    assertThat(reg.get("other").document().valid()).isFalse();
  }
}
