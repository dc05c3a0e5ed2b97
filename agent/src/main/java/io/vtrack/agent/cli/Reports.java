package io.vtrack.agent.cli;

import java.io.PrintWriter;
import java.util.List;
import java.util.Map;

/** Readable renderings of one deployment's status and of one rollout. */
final class Reports {
  private Reports() {}

  @SuppressWarnings("unchecked")
  static void status(PrintWriter out, Map<String, Object> d) {
    Map<String, Object> st = (Map<String, Object>) d.getOrDefault("status", Map.of());
    out.println("Name:          " + d.get("name"));
    out.println("Phase:         " + st.get("phase"));
    out.println("Message:       " + nz(st.get("message")));
    out.println(
        "Revision:      " + nz(st.get("desiredRevision")) + " -> " + nz(st.get("desiredCommit")));
    out.println("Current:       " + nz(st.get("currentCommit")));
    out.println("Last healthy:  " + nz(st.get("lastHealthyCommit")));
    List<Object> q = (List<Object>) st.get("quarantinedCommits");
    if (q != null && !q.isEmpty()) {
      out.println("Quarantined:   " + q);
    }
    instances(out, st);
    List<Map<String, Object>> conds = (List<Map<String, Object>>) st.get("conditions");
    if (conds != null) {
      out.println("Conditions:");
      Table t = new Table("  TYPE", "STATUS", "REASON", "MESSAGE");
      for (Map<String, Object> c : conds) {
        t.row("  " + c.get("type"), c.get("status"), c.get("reason"), c.get("message"));
      }
      t.print(out);
    }
    List<Map<String, Object>> checks = (List<Map<String, Object>>) st.get("checks");
    if (checks != null && !checks.isEmpty()) {
      out.println("Checks:");
      Table t = new Table("  NAME", "KIND", "STATUS", "VALUE", "MS", "MESSAGE");
      for (Map<String, Object> c : checks) {
        t.row(
            "  " + c.get("name"),
            c.get("kind"),
            c.get("status"),
            c.get("value"),
            c.get("durationMs"),
            c.get("message"));
      }
      t.print(out);
    }
    Map<String, Object> lr = (Map<String, Object>) st.get("lastRollout");
    if (lr != null) {
      out.println(
          "Last rollout:  #"
              + lr.get("id")
              + " "
              + short7(lr.get("from"))
              + " -> "
              + short7(lr.get("to"))
              + " "
              + (lr.get("result") == null ? "(" + lr.get("stage") + ")" : lr.get("result"))
              // A reason that repeats the result ("Succeeded Succeeded") is said once.
              + (lr.get("reason") == null || lr.get("reason").equals(lr.get("result"))
                  ? ""
                  : " " + lr.get("reason"))
              + (lr.get("durationMs") == null ? "" : " in " + lr.get("durationMs") + "ms"));
    }
    List<Object> w = (List<Object>) st.get("warnings");
    if (w != null && !w.isEmpty()) {
      out.println("Warnings:      " + w);
    }
    out.flush();
  }

  /** Blue-green: each instance (colour, role, commit, ports, warm until) and the switch proxy. */
  @SuppressWarnings("unchecked")
  private static void instances(PrintWriter out, Map<String, Object> st) {
    List<Map<String, Object>> instances = (List<Map<String, Object>>) st.get("instances");
    if (instances != null && !instances.isEmpty()) {
      out.println("Instances:");
      Table t = new Table("  COLOUR", "ROLE", "COMMIT", "PORTS", "WARM UNTIL");
      for (Map<String, Object> i : instances) {
        Map<String, Object> ports = (Map<String, Object>) i.getOrDefault("ports", Map.of());
        StringBuilder p = new StringBuilder();
        ports.forEach(
            (k, v) -> p.append(p.length() == 0 ? "" : " ").append(k).append('=').append(v));
        t.row(
            "  " + i.get("colour"),
            i.get("role"),
            short7(i.get("commit")),
            p.toString(),
            nz(i.get("warmUntil")));
      }
      t.print(out);
    }
    Map<String, Object> proxy = (Map<String, Object>) st.get("proxy");
    if (proxy != null) {
      // No verdict while it has nothing to serve yet (the first rollout, before its switch).
      String said =
          proxy.get("healthy") == null
              ? ""
              : Boolean.TRUE.equals(proxy.get("healthy")) ? "healthy" : "UNHEALTHY";
      out.println(
          "Proxy:         "
              + said
              + (proxy.get("pid") == null
                  ? ""
                  : " (pid "
                      + proxy.get("pid")
                      + ", routes version "
                      + proxy.get("routesVersion")
                      + ")")
              + (proxy.get("message") == null
                  ? ""
                  : (said.isEmpty() ? "" : ": ") + proxy.get("message")));
    }
  }

  @SuppressWarnings("unchecked")
  static void rollout(PrintWriter out, Map<String, Object> r) {
    out.println("Rollout #" + r.get("id") + " (" + r.get("kind") + ")");
    out.println(
        "  from "
            + nz(r.get("from"))
            + " to "
            + nz(r.get("to"))
            + " ("
            + nz(r.get("revision"))
            + ")");
    out.println("  result: " + nz(r.get("result")) + "  reason: " + nz(r.get("reason")));
    if (r.get("message") != null) {
      out.println("  message: " + r.get("message"));
    }
    out.println(
        "  started "
            + r.get("startedAt")
            + ", finished "
            + nz(r.get("finishedAt"))
            + (r.get("durationMs") == null ? "" : " (" + r.get("durationMs") + "ms)"));
    if (r.get("trigger") != null) {
      out.println("  trigger: " + r.get("trigger"));
    }
    out.println("Steps:");
    for (Map<String, Object> s : (List<Map<String, Object>>) r.getOrDefault("steps", List.of())) {
      out.println(
          "  - " + s.get("name") + ": " + s.get("result") + " (" + nz(s.get("durationMs")) + "ms)");
      Object o = s.get("output");
      if (o != null && !o.toString().isBlank()) {
        for (String line : o.toString().strip().split("\n")) {
          out.println("      " + line);
        }
      }
    }
    Map<String, Object> b = (Map<String, Object>) r.get("backup");
    if (b != null) {
      out.println(
          "Backup: "
              + b.get("path")
              + " ("
              + b.get("sizeBytes")
              + " bytes, integrity "
              + b.get("integrity")
              + ")");
    }
    List<Map<String, Object>> checks =
        (List<Map<String, Object>>) r.getOrDefault("checks", List.of());
    if (!checks.isEmpty()) {
      out.println("Check rounds:");
      Table t = new Table("  STAGE", "ROUND", "CHECK", "STATUS", "VALUE", "MESSAGE");
      for (Map<String, Object> c : checks) {
        t.row(
            "  " + c.get("stage"),
            c.get("round"),
            c.get("name"),
            c.get("status"),
            c.get("value"),
            c.get("message"));
      }
      t.print(out);
    }
    out.flush();
  }

  static Object nz(Object o) {
    return o == null ? "-" : o;
  }

  /** The rollout record as a Markdown sign-off sheet: the checklist, filled in by the agent. */
  @SuppressWarnings("unchecked")
  static void markdown(PrintWriter out, String deployment, Map<String, Object> r) {
    out.println("# Rollout #" + r.get("id") + " of " + deployment + ": " + nz(r.get("result")));
    out.println();
    out.println("| | |");
    out.println("|---|---|");
    out.println("| kind | " + r.get("kind") + " |");
    out.println("| from | `" + nz(r.get("from")) + "` |");
    out.println("| to | `" + nz(r.get("to")) + "` (" + nz(r.get("revision")) + ") |");
    out.println("| result | " + nz(r.get("result")) + " |");
    out.println("| reason | " + nz(r.get("reason")) + " |");
    out.println("| started | " + r.get("startedAt") + " |");
    out.println("| finished | " + nz(r.get("finishedAt")) + " |");
    out.println("| duration | " + nz(r.get("durationMs")) + " ms |");
    out.println("| data restored | " + r.get("dataRestored") + " |");
    Map<String, Object> t = (Map<String, Object>) r.get("trigger");
    if (t != null) {
      out.println("| triggered by | " + nz(t.get("by")) + " |");
      Map<String, Object> src = (Map<String, Object>) t.get("source");
      if (src != null) {
        out.println(
            "| desired-state commit | `"
                + nz(src.get("commit"))
                + "` "
                + nz(src.get("subject"))
                + " — "
                + nz(src.get("author"))
                + " ("
                + nz(src.get("file"))
                + ") |");
      }
      Map<String, Object> c = (Map<String, Object>) t.get("commit");
      if (c != null) {
        out.println("| app commit | " + nz(c.get("subject")) + " — " + nz(c.get("author")) + " |");
      }
      if (t.get("caller") != null) {
        out.println("| API caller | " + t.get("caller") + " |");
      }
    }
    if (r.get("message") != null) {
      out.println();
      out.println("> " + String.valueOf(r.get("message")).replace("\n", "\n> "));
    }
    out.println();
    out.println("## Steps");
    out.println();
    for (Map<String, Object> s : (List<Map<String, Object>>) r.getOrDefault("steps", List.of())) {
      out.println(
          "- ["
              + ("Succeeded".equals(s.get("result")) ? "x" : " ")
              + "] **"
              + s.get("name")
              + "** — "
              + nz(s.get("result"))
              + ", "
              + nz(s.get("durationMs"))
              + " ms ("
              + s.get("startedAt")
              + ")");
      Object o = s.get("output");
      if (o != null && !o.toString().isBlank()) {
        out.println();
        out.println("  ```");
        for (String line : o.toString().strip().split("\n")) {
          out.println("  " + line);
        }
        out.println("  ```");
      }
    }
    Map<String, Object> b = (Map<String, Object>) r.get("backup");
    if (b != null) {
      out.println();
      out.println("## Backup");
      out.println();
      out.println(
          "`"
              + b.get("path")
              + "`, "
              + b.get("sizeBytes")
              + " bytes, integrity: "
              + b.get("integrity"));
    }
    List<Map<String, Object>> checks =
        (List<Map<String, Object>>) r.getOrDefault("checks", List.of());
    if (!checks.isEmpty()) {
      out.println();
      out.println("## Check rounds");
      out.println();
      out.println("| stage | round | check | status | value | message |");
      out.println("|---|---|---|---|---|---|");
      for (Map<String, Object> c : checks) {
        out.println(
            "| "
                + c.get("stage")
                + " | "
                + c.get("round")
                + " | "
                + c.get("name")
                + " | "
                + c.get("status")
                + " | "
                + nz(c.get("value"))
                + " | "
                + String.valueOf(c.get("message")).replace("|", "\\|")
                + " |");
      }
    }
    List<Map<String, Object>> events =
        (List<Map<String, Object>>) r.getOrDefault("events", List.of());
    if (!events.isEmpty()) {
      out.println();
      out.println("## Events");
      out.println();
      for (Map<String, Object> e : events) {
        out.println("- " + e.get("at") + " " + e.get("type") + ": " + nz(e.get("message")));
      }
    }
    out.println();
    out.flush();
  }

  static String short7(Object c) {
    return io.vtrack.agent.model.Commits.short7(c == null ? null : c.toString());
  }
}
