package io.vtrack.agent.cli;

import io.vtrack.agent.Texts;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

/** A plain-text table with columns as wide as their widest cell. */
final class Table {
  private final String[] headers;
  private final List<String[]> rows = new ArrayList<>();

  Table(String... headers) {
    this.headers = headers;
  }

  void row(Object... cells) {
    String[] r = new String[headers.length];
    for (int i = 0; i < headers.length; i++) {
      Object c = i < cells.length ? cells[i] : null;
      r[i] = c == null ? "" : c.toString().replace('\n', ' ');
    }
    rows.add(r);
  }

  void print(PrintWriter out) {
    int[] w = new int[headers.length];
    for (int i = 0; i < headers.length; i++) {
      w[i] = headers[i].length();
      for (String[] r : rows) {
        w[i] = Math.max(w[i], Math.min(r[i].length(), i == headers.length - 1 ? 200 : 60));
      }
    }
    line(out, headers, w);
    for (String[] r : rows) {
      line(out, r, w);
    }
    out.flush();
  }

  private static void line(PrintWriter out, String[] cells, int[] w) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < cells.length; i++) {
      // At most the column's width: its last character gives way to the "…".
      int limit = i == cells.length - 1 ? 200 : 60;
      String c = cells[i].length() > limit ? Texts.abbreviate(cells[i], limit - 1) : cells[i];
      sb.append(c);
      if (i < cells.length - 1) {
        sb.append(" ".repeat(w[i] - c.length() + 2));
      }
    }
    out.println(sb.toString().stripTrailing());
  }
}
