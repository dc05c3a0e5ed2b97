package io.vtrack.agent.check;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A pattern with catastrophic backtracking cannot hold a thread: the line is skipped in time. */
class LineMatcherTest {
  @Test
  @Timeout(60)
  void aSlowPatternSkipsTheLineInsteadOfSpinning() {
    LineMatcher m = new LineMatcher(Pattern.compile("(.*a){12}x"));
    byte[] text =
        ("ERROR fine line\n" + "a".repeat(40) + "\nanother line\n")
            .getBytes(StandardCharsets.UTF_8);
    int[] stopped = {0};
    LineMatcher.Count c =
        m.count(text, 0, text.length, System.nanoTime() + 50_000_000_000L, stopped);
    assertThat(c.skipped()).isEqualTo(1);
    assertThat(c.matches()).isZero();
    assertThat(stopped[0]).isEqualTo(text.length);
  }

  @Test
  void countsMatchesAndCutsLongLines() {
    LineMatcher m = new LineMatcher(Pattern.compile("(?i)\\berror\\b"));
    String longLine = "x".repeat(LineMatcher.MAX_LINE) + " error";
    byte[] text = ("error one\nok\nERROR two\n" + longLine + "\n").getBytes(StandardCharsets.UTF_8);
    int[] stopped = {0};
    LineMatcher.Count c = m.count(text, 0, text.length, Long.MAX_VALUE, stopped);
    assertThat(c.matches()).isEqualTo(2);
    assertThat(c.lastMatch()).isEqualTo("ERROR two");
  }

  /** A JSON log line with a long request in it and its level last: the level is matched. */
  @Test
  void aLongStructuredLineIsMatchedToItsEnd() {
    LineMatcher m = new LineMatcher(Pattern.compile("\"level\": \"error\""));
    String line = "{\"request\": \"" + "a".repeat(20_000) + "\", \"level\": \"error\"}";
    byte[] text = (line + "\n").getBytes(StandardCharsets.UTF_8);
    int[] stopped = {0};
    assertThat(m.count(text, 0, text.length, Long.MAX_VALUE, stopped).matches()).isEqualTo(1);
  }

  @Test
  void aRoundOutOfTimeStopsAtALineBoundary() {
    LineMatcher m = new LineMatcher(Pattern.compile("error"));
    byte[] text = "error\nerror\n".getBytes(StandardCharsets.UTF_8);
    int[] stopped = {-1};
    LineMatcher.Count c = m.count(text, 0, text.length, System.nanoTime() - 1, stopped);
    assertThat(c.matches()).isZero();
    assertThat(stopped[0]).isZero();
  }
}
