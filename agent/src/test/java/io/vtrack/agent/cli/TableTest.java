package io.vtrack.agent.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

class TableTest {
  private static String[] print(Table t) {
    StringWriter out = new StringWriter();
    t.print(new PrintWriter(out));
    return out.toString().split("\n");
  }

  @Test
  void theLastColumnShowsItsFirst199CharactersNotItsFirst59() {
    Table t = new Table("CHECK", "MESSAGE");
    t.row("sources", "m".repeat(300));
    String row = print(t)[1];
    assertEquals("sources  " + "m".repeat(199) + "…", row);
  }

  @Test
  void aWideCellIsCutToItsColumnAndTheNextColumnStaysAligned() {
    Table t = new Table("NAME", "STATUS");
    t.row("n".repeat(60), "Passing");
    t.row("x".repeat(61), "Failing");
    String[] lines = print(t);
    assertEquals("n".repeat(60) + "  Passing", lines[1]);
    assertEquals("x".repeat(59) + "…  Failing", lines[2]);
  }
}
