package io.vtrack.agent.model;

import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * The rules of {@code spec.health}: timings, check names, exactly one kind each, and each kind's.
 */
final class HealthRules extends FieldRules {
  /** Latency samples per round: more only makes every round longer, never the median surer. */
  static final int MAX_SAMPLES = 1000;

  /** The most checks a deployment may have: every round runs each of them. */
  static final int MAX_CHECKS = 100;

  HealthRules(List<SpecValidator.Violation> out) {
    super(out);
  }

  void checkHealth(HealthPolicy health, List<String> services) {
    positive("spec.health.startupTimeout", health.startupTimeout());
    positive("spec.health.interval", health.interval());
    // A round every millisecond would only load the app and the agent; a day-long window never
    // ends.
    within("spec.health.interval", health.interval(), 100, 3_600_000);
    within("spec.health.startupTimeout", health.startupTimeout(), 1_000, 86_400_000);
    within("spec.health.window", health.window(), 0, 86_400_000);
    if (health.window().millis() < 0) {
      fail("spec.health.window", "must not be negative");
    }
    if (health.failureThreshold() < 1) {
      fail("spec.health.failureThreshold", "must be at least 1");
    }
    if (health.startupFailureThreshold() < 1) {
      fail("spec.health.startupFailureThreshold", "must be at least 1");
    }
    if (health.checks().size() > MAX_CHECKS) {
      // Every round runs every check against the app: thousands would load it, not watch it.
      fail(
          "spec.health.checks", "at most " + MAX_CHECKS + " checks, got " + health.checks().size());
      return;
    }
    Set<String> names = new HashSet<>();
    for (int i = 0; i < health.checks().size(); i++) {
      CheckSpec c = health.checks().get(i);
      String f = "spec.health.checks[" + i + "]";
      if (c.name() == null || c.name().isBlank()) {
        fail(f + ".name", "is required");
      } else if (!names.add(c.name())) {
        fail(f + ".name", "duplicate check name '" + c.name() + "'");
      }
      if (c.timeout() != null) {
        positive(f + ".timeout", c.timeout());
      }
      List<String> kinds = c.kinds();
      if (kinds.isEmpty()) {
        fail(
            f,
            "check '"
                + c.name()
                + "' has no kind (one of http, sqlite, log, latency, memory, command)");
        continue;
      }
      if (kinds.size() > 1) {
        fail(
            f,
            "check '"
                + c.name()
                + "' has "
                + kinds.size()
                + " kinds "
                + kinds
                + "; exactly one is allowed");
        continue;
      }
      checkKind(f, c, services);
    }
  }

  /**
   * Blue-green: a check that asks a public address reaches the live release through the switch
   * proxy, never the one under verification, which would be switched in unproven.
   *
   * @param exposed each public address ({@code host:port}) by the field that exposes it
   */
  void checkAsksNoPublicAddress(HealthPolicy health, Map<String, String> exposed) {
    for (int i = 0; i < health.checks().size(); i++) {
      asked(health.checks().get(i), "spec.health.checks[" + i + "]")
          .forEach(
              (field, text) ->
                  exposed.forEach(
                      (listen, by) -> {
                        if (text != null && asks(text, listen)) {
                          fail(
                              field,
                              "asks "
                                  + listen
                                  + ", the public address the switch proxy owns ("
                                  + by
                                  + "): during a rollout it answers from the live release, not the"
                                  + " one under verification; ask the instance's own port,"
                                  + " http://127.0.0.1:${port:NAME}/...");
                        }
                      }));
    }
  }

  /** What a check asks (an http or latency URL, a command's arguments), by field. */
  private static Map<String, String> asked(CheckSpec c, String f) {
    Map<String, String> asked = new LinkedHashMap<>();
    if (c.http() != null) {
      asked.put(f + ".http.url", c.http().url());
    } else if (c.latency() != null) {
      asked.put(f + ".latency.url", c.latency().url());
    } else if (c.command() != null) {
      for (int j = 0; j < c.command().command().size(); j++) {
        asked.put(f + ".command.command[" + j + "]", c.command().command().get(j));
      }
    }
    return asked;
  }

  /**
   * A check's {@code ${port:NAME}} names a port the agent hands out: only blue-green has them, and
   * only for a service of the deployment. A name it does not know would stay in the URL as written
   * and fail the check of every revision, quarantining commits for a typo in the document.
   *
   * @param services the services that get a port, or null when the compose files name them (not
   *     known before a release is exported)
   */
  void checkPortReferences(HealthPolicy health, boolean blueGreen, List<String> services) {
    for (int i = 0; i < health.checks().size(); i++) {
      asked(health.checks().get(i), "spec.health.checks[" + i + "]")
          .forEach(
              (field, text) -> {
                Matcher m = PORT_REF.matcher(text == null ? "" : text);
                while (m.find()) {
                  if (!blueGreen) {
                    fail(field, "${port:" + m.group(1) + "} needs spec.strategy.blueGreen");
                  } else if (services != null && !services.contains(m.group(1))) {
                    fail(
                        field,
                        "${port:"
                            + m.group(1)
                            + "} names no service of spec.runtime.services "
                            + services);
                  }
                }
              });
    }
  }

  private static final Set<String> LOOPBACK =
      Set.of("127.0.0.1", "localhost", "0.0.0.0", "[::1]", "[::]", "::1", "::");

  /**
   * Whether {@code text} names {@code listen}'s port on its host, or on loopback for a local one.
   */
  static boolean asks(String text, String listen) {
    int colon = listen.lastIndexOf(':');
    if (colon <= 0) {
      return false;
    }
    String host = listen.substring(0, colon).toLowerCase(Locale.ROOT);
    String port = listen.substring(colon + 1);
    Set<String> hosts = new HashSet<>(Set.of(host));
    if (LOOPBACK.contains(host)) {
      hosts.addAll(LOOPBACK);
    }
    for (String h : hosts) {
      Matcher m =
          Pattern.compile("(?<![\\w.-])" + Pattern.quote(h) + ":" + port + "(?!\\d)")
              .matcher(text.toLowerCase(Locale.ROOT));
      if (m.find()) {
        return true;
      }
    }
    return false;
  }

  private void checkKind(String f, CheckSpec c, List<String> services) {
    if (c.http() != null) {
      checkUrl(f + ".http.url", c.http().url(), true);
      for (int j = 0; j < c.http().status().size(); j++) {
        int code = c.http().status().get(j);
        if (code < 100 || code > 599) {
          fail(f + ".http.status[" + j + "]", "not an HTTP status code: " + code);
        }
      }
      if (c.http().maxBodyBytes().bytes() <= 0) {
        fail(f + ".http.maxBodyBytes", "must be positive");
      }
      for (String key : c.http().json().keySet()) {
        if (!JsonPath.isValid(key)) {
          fail(f + ".http.json", "invalid path '" + key + "' (use a.b or a[0].b)");
        }
      }
      fileRefs(f + ".http.url", c.http().url());
      fileRefs(f + ".http.json", c.http().json());
    } else if (c.sqlite() != null) {
      CheckSpec.Sqlite s = c.sqlite();
      if (s.database() == null) {
        fail(f + ".sqlite.database", "is required");
      } else {
        relativePath(f + ".sqlite.database", s.database(), false);
      }
      if (s.integrityCheck() && s.query() != null) {
        fail(f + ".sqlite", "give either query or integrityCheck, not both");
      } else if (!s.integrityCheck() && (s.query() == null || s.query().isBlank())) {
        fail(f + ".sqlite.query", "is required unless integrityCheck: true");
      }
      if (s.min() != null && s.max() != null && s.min() > s.max()) {
        fail(f + ".sqlite.min", "is greater than max");
      }
    } else if (c.log() != null) {
      CheckSpec.Log l = c.log();
      if ((l.file() == null) == (l.service() == null)) {
        fail(f + ".log", "give exactly one of file or service");
      } else if (l.file() != null) {
        relativePath(f + ".log.file", l.file(), false);
      } else if (!services.isEmpty() && !services.contains(l.service())) {
        fail(f + ".log.service", "no service named '" + l.service() + "' in spec.runtime.services");
      }
      if (l.pattern() == null || l.pattern().isEmpty()) {
        fail(f + ".log.pattern", "is required");
      } else {
        try {
          Pattern.compile(l.pattern());
        } catch (PatternSyntaxException e) {
          fail(
              f + ".log.pattern",
              "invalid regex: " + e.getDescription() + " near index " + e.getIndex());
        }
      }
      if (l.max() < 0) {
        fail(f + ".log.max", "must not be negative");
      }
    } else if (c.latency() != null) {
      checkUrl(f + ".latency.url", c.latency().url(), true);
      fileRefs(f + ".latency.url", c.latency().url());
      if (c.latency().samples() < 1) {
        fail(f + ".latency.samples", "must be at least 1");
      } else if (c.latency().samples() > MAX_SAMPLES) {
        fail(
            f + ".latency.samples",
            "must be at most "
                + MAX_SAMPLES
                + " (each is a request, one after another, in every round), got "
                + c.latency().samples());
      }
    } else if (c.memory() != null) {
      CheckSpec.Memory m = c.memory();
      if (m.service() == null) {
        fail(f + ".memory.service", "is required");
      } else if (!services.isEmpty() && !services.contains(m.service())) {
        fail(
            f + ".memory.service",
            "no service named '" + m.service() + "' in spec.runtime.services");
      }
      if (m.max() == null && m.maxIncrease() == null) {
        fail(f + ".memory", "give max, maxIncrease or both");
      }
    } else if (c.command() != null) {
      checkCommand(f + ".command.command", c.command().command());
      relativePath(f + ".command.cwd", c.command().cwd(), false);
    }
  }
}
