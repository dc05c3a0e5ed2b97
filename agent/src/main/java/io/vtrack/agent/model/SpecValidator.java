package io.vtrack.agent.model;

import io.vtrack.agent.model.RuntimeSpec.ServiceSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The semantic rules of DESIGN.md §2 that binding alone cannot enforce. Pure. */
public final class SpecValidator extends FieldRules {
  private static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  private static final Pattern ENV_KEY = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
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

  private SpecValidator(List<Violation> out) {
    super(out);
  }

  public static List<Violation> validate(VTrackDeployment doc, Context ctx) {
    List<Violation> out = new ArrayList<>();
    new SpecValidator(out).check(doc, ctx);
    return List.copyOf(out);
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
    new HealthRules(out).checkHealth(spec.health(), services);
    new HealthRules(out)
        .checkPortReferences(
            spec.health(),
            spec.blueGreen() != null,
            spec.runtime().type() == RuntimeSpec.RuntimeType.compose ? null : services);
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
      } else if (!remote && !url.startsWith("/")) {
        // Relative to what? The folder the agent happens to run in is no answer.
        fail(
            "spec.source.repoURL",
            "'"
                + url
                + "' is neither a URL (https://, ssh://, file://, user@host:path) nor an absolute"
                + " path");
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
    Map<String, String> listens = new LinkedHashMap<>();
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
      } else if (listens.putIfAbsent(listen, ef) != null) {
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
      new HealthRules(out).checkAsksNoPublicAddress(spec.health(), listens);
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
}
