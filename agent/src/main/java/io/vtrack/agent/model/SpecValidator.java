package io.vtrack.agent.model;

import io.vtrack.agent.model.RuntimeSpec.ServiceSpec;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/** The semantic rules of DESIGN.md §2 that binding alone cannot enforce. Pure. */
public final class SpecValidator {
  private static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  private static final Pattern ENV_KEY = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
  private static final Pattern SUBST =
      Pattern.compile("\\$\\{(commit|shortCommit|revision|file:[^}]+|port:[^}]+)}");
  private static final Pattern PORT_REF = Pattern.compile("\\$\\{port:([^}]*)}");
  private static final Set<String> NOTIFY_EVENTS =
      Set.of(
          "Healthy",
          "RolledBack",
          "Failed",
          "Degraded",
          "Stalled",
          "Succeeded",
          "Deploying",
          "Verifying",
          "RollingBack",
          "Pending",
          "Suspended");

  /** Where the document came from, which changes what may be omitted. */
  public record Context(boolean gitSourced) {
    public static final Context FILE = new Context(false);
    public static final Context GIT = new Context(true);
  }

  public record Violation(String field, String message) {}

  private final List<Violation> out = new ArrayList<>();

  private SpecValidator() {}

  public static List<Violation> validate(VTrackDeployment doc, Context ctx) {
    SpecValidator v = new SpecValidator();
    v.check(doc, ctx);
    return List.copyOf(v.out);
  }

  private void fail(String field, String message) {
    out.add(new Violation(field, message));
  }

  private void check(VTrackDeployment doc, Context ctx) {
    if (!VTrackDeployment.API_VERSION.equals(doc.apiVersion())) {
      fail("apiVersion", "must be " + VTrackDeployment.API_VERSION + ", got " + doc.apiVersion());
    }
    if (!VTrackDeployment.KIND.equals(doc.kind())) {
      fail("kind", "must be " + VTrackDeployment.KIND + ", got " + doc.kind());
    }
    if (doc.metadata() == null || doc.metadata().name() == null) {
      fail("metadata.name", "is required");
    } else {
      String name = doc.metadata().name();
      if (name.length() > 63 || !DNS_LABEL.matcher(name).matches()) {
        fail(
            "metadata.name",
            "'" + name + "' is not a DNS-1123 label (lower-case letters, digits, '-'; at most 63)");
      }
    }
    DeploymentSpec spec = doc.spec();
    if (spec == null) {
      fail("spec", "is required");
      return;
    }
    checkSource(spec.source(), ctx);
    List<String> services = checkRuntime(spec.runtime());
    checkSteps("spec.prepare", spec.prepare());
    checkSteps("spec.validate", spec.validate());
    checkBackup(spec.backup(), spec.runtime().sharedPaths());
    if (spec.releases().keep() < 2) {
      fail("spec.releases.keep", "must be at least 2 (the running and the last healthy release)");
    }
    checkHealth(spec.health(), services);
    checkStrategy(spec, services);
    if (spec.promotion() != null) {
      String other = spec.promotion().requireHealthyIn();
      if (other == null || !DNS_LABEL.matcher(other).matches()) {
        fail("spec.promotion.requireHealthyIn", "must name another deployment, got " + other);
      } else if (doc.metadata() != null && other.equals(doc.metadata().name())) {
        fail("spec.promotion.requireHealthyIn", "cannot name the deployment itself");
      }
    }
    for (int i = 0; i < spec.notifications().size(); i++) {
      NotifySpec n = spec.notifications().get(i);
      String f = "spec.notify[" + i + "]";
      checkUrl(f + ".url", n.url(), false);
      for (int j = 0; j < n.on().size(); j++) {
        if (!NOTIFY_EVENTS.contains(n.on().get(j))) {
          fail(
              f + ".on[" + j + "]",
              "unknown transition '" + n.on().get(j) + "', one of " + NOTIFY_EVENTS);
        }
      }
    }
  }

  private void checkSource(SourceSpec source, Context ctx) {
    if (source == null) {
      fail("spec.source", "is required");
      return;
    }
    if (source.revision() == null || source.revision().isBlank()) {
      fail("spec.source.revision", "is required (a tag, branch or commit SHA)");
    }
    if (source.repoURL() == null || source.repoURL().isBlank()) {
      if (!ctx.gitSourced()) {
        fail(
            "spec.source.repoURL",
            "is required (it may be omitted only in documents read from a git source)");
      }
    } else {
      String url = source.repoURL();
      boolean remote =
          url.startsWith("https://")
              || url.startsWith("http://")
              || url.startsWith("ssh://")
              || url.startsWith("file://")
              || url.matches("^[\\w.-]+@[\\w.-]+:.*");
      if (!remote && url.contains("://")) {
        fail(
            "spec.source.repoURL",
            "unsupported scheme in '" + url + "' (https, ssh, file or a path)");
      }
    }
    relativePath("spec.source.path", source.path(), false);
  }

  private List<String> checkRuntime(RuntimeSpec runtime) {
    List<String> names = new ArrayList<>();
    Set<String> shared = new HashSet<>();
    for (int i = 0; i < runtime.sharedPaths().size(); i++) {
      String p = runtime.sharedPaths().get(i);
      String f = "spec.runtime.sharedPaths[" + i + "]";
      if (!relativePath(f, p, true)) {
        continue;
      }
      String norm = Path.of(stripSlash(p)).normalize().toString();
      if (norm.isEmpty() || norm.equals(".")) {
        // shared/ would cover the whole release: every release would become a link to the data.
        fail(f, "'" + p + "' is the release root itself; name the folders or files to share");
      } else if (norm.equals(".git") || norm.startsWith(".git/")) {
        fail(f, "'" + p + "' is inside .git, which releases do not have");
      } else if (!shared.add(norm)) {
        fail(f, "duplicate shared path '" + p + "'");
      }
    }
    List<String> sharedNorm = new ArrayList<>(shared);
    for (int i = 0; i < runtime.sharedPaths().size(); i++) {
      String p = runtime.sharedPaths().get(i);
      if (!safeText(p)) {
        continue;
      }
      Path mine = Path.of(stripSlash(p)).normalize();
      for (String other : sharedNorm) {
        Path o = Path.of(other);
        if (!o.equals(mine) && mine.startsWith(o)) {
          fail(
              "spec.runtime.sharedPaths[" + i + "]",
              "'"
                  + p
                  + "' lies inside the shared path '"
                  + other
                  + "': shared paths must not"
                  + " overlap");
        }
      }
    }
    if (runtime.type() == RuntimeSpec.RuntimeType.process) {
      if (runtime.services().isEmpty()) {
        fail("spec.runtime.services", "a process runtime needs at least one service");
      }
      if (runtime.compose() != null) {
        fail("spec.runtime.compose", "is only for type: compose");
      }
    } else {
      if (runtime.compose() == null) {
        fail("spec.runtime.compose", "is required for type: compose");
      } else {
        if (runtime.compose().files().isEmpty()) {
          fail("spec.runtime.compose.files", "needs at least one compose file");
        }
        for (int i = 0; i < runtime.compose().files().size(); i++) {
          relativePath(
              "spec.runtime.compose.files[" + i + "]", runtime.compose().files().get(i), false);
        }
        String project = runtime.compose().project();
        if (project != null && !project.matches("[a-z0-9][a-z0-9_-]*")) {
          fail(
              "spec.runtime.compose.project",
              "'" + project + "' is not a valid compose project name");
        }
      }
      // Compose services come from the compose files; blue-green names the ones it exposes.
      for (int i = 0; i < runtime.services().size(); i++) {
        ServiceSpec s = runtime.services().get(i);
        if (!s.command().isEmpty()
            || !".".equals(s.cwd())
            || !s.env().isEmpty()
            || !s.envFrom().isEmpty()) {
          fail(
              "spec.runtime.services[" + i + "]",
              "with type: compose a service entry only names a compose service and its"
                  + " expose.listen (blue-green); command, cwd, env and envFrom belong in the"
                  + " compose files");
        }
      }
    }
    for (int i = 0; i < runtime.services().size(); i++) {
      ServiceSpec s = runtime.services().get(i);
      String f = "spec.runtime.services[" + i + "]";
      if (s.name() == null || !DNS_LABEL.matcher(s.name()).matches()) {
        fail(f + ".name", "'" + s.name() + "' is not a valid service name (DNS-1123 label)");
      } else if (names.contains(s.name())) {
        fail(f + ".name", "duplicate service name '" + s.name() + "'");
      } else {
        names.add(s.name());
      }
      if (runtime.type() == RuntimeSpec.RuntimeType.process) {
        checkCommand(f + ".command", s.command());
      }
      relativePath(f + ".cwd", s.cwd(), false);
      if (Signals.number(s.stop().signal()) < 0) {
        fail(f + ".stop.signal", "unknown signal '" + s.stop().signal() + "'");
      }
      if (s.stop().timeout().millis() <= 0) {
        fail(f + ".stop.timeout", "must be positive");
      }
      within(f + ".stop.timeout", s.stop().timeout(), 1, 3_600_000);
      for (String key : s.env().keySet()) {
        if (!ENV_KEY.matcher(key).matches()) {
          fail(f + ".env", "'" + key + "' is not a valid environment variable name");
        }
      }
      for (int j = 0; j < s.envFrom().size(); j++) {
        String file = s.envFrom().get(j).file();
        String ef = f + ".envFrom[" + j + "].file";
        if (file == null || !safeText(file) || !file.startsWith("/")) {
          fail(ef, "must be an absolute path on the agent's host, got '" + file + "'");
        }
      }
    }
    return names;
  }

  /** Blue-green: public addresses, the ports services listen on, and the timings. */
  private void checkStrategy(DeploymentSpec spec, List<String> services) {
    StrategySpec.BlueGreen bg = spec.blueGreen();
    RuntimeSpec runtime = spec.runtime();
    Set<String> listens = new HashSet<>();
    boolean anyExposed = false;
    for (int i = 0; i < runtime.services().size(); i++) {
      ServiceSpec s = runtime.services().get(i);
      String f = "spec.runtime.services[" + i + "]";
      List<String> texts = new ArrayList<>(s.command());
      texts.addAll(s.env().values());
      for (String t : texts) {
        Matcher m = PORT_REF.matcher(t);
        while (m.find()) {
          if (bg == null) {
            fail(f, "${port:" + m.group(1) + "} needs spec.strategy.blueGreen");
          } else if (!services.contains(m.group(1))) {
            fail(f, "${port:" + m.group(1) + "} names no service of spec.runtime.services");
          }
        }
      }
      if (s.expose() == null) {
        continue;
      }
      anyExposed = true;
      String ef = f + ".expose.listen";
      if (bg == null) {
        fail(f + ".expose", "is only for spec.strategy.blueGreen");
        continue;
      }
      String listen = s.expose().listen();
      if (listen == null
          || !listen.matches("[^\\s:]+:\\d{1,5}")
          || Integer.parseInt(listen.substring(listen.lastIndexOf(':') + 1)) == 0
          || Integer.parseInt(listen.substring(listen.lastIndexOf(':') + 1)) > 65535) {
        fail(ef, "expected host:port (e.g. 127.0.0.1:18080), got '" + listen + "'");
      } else if (!listens.add(listen)) {
        fail(ef, "'" + listen + "' is exposed twice");
      }
      boolean listensOnItsPort =
          runtime.type() == RuntimeSpec.RuntimeType.compose
              || texts.stream().anyMatch(t -> t.contains("${port:" + s.name() + "}"));
      if (!listensOnItsPort) {
        fail(
            f,
            "an exposed service must listen on its own port ${port:"
                + s.name()
                + "} (in env or command): the proxy owns "
                + listen);
      }
    }
    if (bg != null) {
      if (bg.preview() == StrategySpec.Preview.snapshot && runtime.sharedPaths().isEmpty()) {
        fail(
            "spec.strategy.blueGreen.preview",
            "snapshot runs the revision on a copy of spec.runtime.sharedPaths, and there are none:"
                + " use preview: live");
      }
      within("spec.strategy.blueGreen.keepWarm", bg.keepWarm(), 0, 86_400_000);
      within("spec.strategy.blueGreen.drainTimeout", bg.drainTimeout(), 0, 600_000);
      if (!anyExposed) {
        fail(
            "spec.strategy.blueGreen",
            runtime.type() == RuntimeSpec.RuntimeType.compose
                ? "no service has expose.listen: name the compose services the proxy serves in"
                    + " spec.runtime.services ({name: backend, expose: {listen: ...}})"
                : "no service has expose.listen: there is nothing for the proxy to switch");
      }
    } else if (runtime.type() == RuntimeSpec.RuntimeType.compose && !runtime.services().isEmpty()) {
      fail(
          "spec.runtime.services",
          "with type: compose it only names the services blue-green exposes: it needs"
              + " spec.strategy.blueGreen");
    }
  }

  private void checkSteps(String field, List<CommandStep> steps) {
    Set<String> names = new HashSet<>();
    for (int i = 0; i < steps.size(); i++) {
      CommandStep s = steps.get(i);
      String f = field + "[" + i + "]";
      if (s.name() == null || s.name().isBlank()) {
        fail(f + ".name", "is required");
      } else if (!names.add(s.name())) {
        fail(f + ".name", "duplicate step name '" + s.name() + "'");
      }
      checkCommand(f + ".command", s.command());
      relativePath(f + ".cwd", s.cwd(), false);
      if (s.timeout().millis() <= 0) {
        fail(f + ".timeout", "must be positive");
      }
    }
  }

  private void checkBackup(BackupSpec backup, List<String> sharedPaths) {
    if (backup.keep() < 1) {
      fail("spec.backup.keep", "must be at least 1");
    }
    for (int i = 0; i < backup.sqlite().size(); i++) {
      insideShared("spec.backup.sqlite[" + i + "]", backup.sqlite().get(i), sharedPaths);
    }
    for (int i = 0; i < backup.files().size(); i++) {
      insideShared("spec.backup.files[" + i + "]", backup.files().get(i), sharedPaths);
    }
  }

  private void insideShared(String field, String path, List<String> sharedPaths) {
    if (!relativePath(field, path, false)) {
      return;
    }
    if (!isInsideShared(path, sharedPaths)) {
      fail(field, "'" + path + "' must lie inside spec.runtime.sharedPaths " + sharedPaths);
    }
  }

  /** True when {@code path} is a shared file or lies under a shared directory. */
  public static boolean isInsideShared(String path, List<String> sharedPaths) {
    if (!safeText(path)) {
      return false;
    }
    Path p = Path.of(path).normalize();
    for (String s : sharedPaths) {
      if (!safeText(s)) {
        continue;
      }
      Path sp = Path.of(stripSlash(s)).normalize();
      if (s.endsWith("/") ? p.startsWith(sp) && !p.equals(sp) : p.equals(sp)) {
        return true;
      }
    }
    return false;
  }

  private void checkHealth(HealthPolicy health, List<String> services) {
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
      if (c.latency().samples() < 1) {
        fail(f + ".latency.samples", "must be at least 1");
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

  private void checkCommand(String field, List<String> command) {
    if (command.isEmpty() || command.get(0) == null || command.get(0).isBlank()) {
      fail(field, "must be a non-empty argv list");
    }
  }

  private void within(String field, Interval value, long minMillis, long maxMillis) {
    if (value.millis() > 0 && (value.millis() < minMillis || value.millis() > maxMillis)) {
      fail(
          field,
          value.text()
              + " is out of range ("
              + Interval.ofMillis(minMillis).text()
              + " to "
              + Interval.ofMillis(maxMillis).text()
              + ")");
    }
  }

  private void positive(String field, Interval value) {
    if (value.millis() <= 0) {
      fail(field, "must be positive");
    }
  }

  private void checkUrl(String field, String url, boolean httpOnly) {
    if (url == null || url.isBlank()) {
      fail(field, "is required");
      return;
    }
    try {
      URI uri = URI.create(SUBST.matcher(PORT_REF.matcher(url).replaceAll("1")).replaceAll("x"));
      if (uri.getScheme() == null
          || !(uri.getScheme().equals("http") || uri.getScheme().equals("https"))
          || uri.getHost() == null) {
        fail(field, "'" + url + "' is not an http(s) URL");
      }
    } catch (IllegalArgumentException e) {
      fail(field, "'" + url + "' is not a valid URL: " + e.getMessage());
    }
  }

  /** Rejects absolute paths and paths that escape their root; returns whether the path is fine. */
  private boolean relativePath(String field, String path, boolean allowDirSlash) {
    if (path == null || path.isBlank()) {
      fail(field, "must not be empty");
      return false;
    }
    if (!safeText(path)) {
      fail(field, "contains a NUL byte or a control character");
      return false;
    }
    if (path.startsWith("/")) {
      fail(field, "'" + path + "' must be relative");
      return false;
    }
    Path norm = Path.of(stripSlash(path)).normalize();
    if (norm.startsWith("..")) {
      fail(field, "'" + path + "' escapes the release root");
      return false;
    }
    return true;
  }

  /** A path with no NUL byte or control character (which no file name here needs). */
  static boolean safeText(String p) {
    return p != null && p.chars().noneMatch(c -> c < 0x20 || c == 0x7f);
  }

  static String stripSlash(String p) {
    return p.endsWith("/") ? p.substring(0, p.length() - 1) : p;
  }
}
