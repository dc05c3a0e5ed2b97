package io.vtrack.agent.reconcile;

import io.vtrack.agent.model.RuntimeSpec;
import io.vtrack.agent.release.DeploymentPaths;
import io.vtrack.agent.store.Instance;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where a commit of a deployment runs: the key its processes are kept under, the folder its
 * services write their output to, and the port of each service. With recreate there is one, keyed
 * by the deployment's name; with blue-green one per instance ({@code name@blue}, {@code
 * logs/blue/}, its own ports).
 */
record Target(String runtimeKey, Path logsDir, Map<String, Integer> ports) {
  private static final Pattern PORT = Pattern.compile("\\$\\{port:([^}]+)}");

  static Target recreate(String name, DeploymentPaths paths) {
    return new Target(name, paths.logs(), Map.of());
  }

  static Target of(Instance i, DeploymentPaths paths) {
    return new Target(i.runtimeKey(), paths.logs().resolve(i.colour()), i.ports());
  }

  /** The target of what runs now: the live instance with blue-green, else the deployment. */
  static Target ofWhatRuns(Snapshot snap, DeploymentPaths paths) {
    Instance live = snap.live();
    return live == null ? recreate(snap.desired().name(), paths) : of(live, paths);
  }

  /** {@code VTRACK_PORT_<NAME>} for each service, for compose files and scripts. */
  Map<String, String> portEnv() {
    Map<String, String> out = new HashMap<>();
    ports.forEach(
        (svc, port) ->
            out.put(
                "VTRACK_PORT_" + svc.toUpperCase(Locale.ROOT).replace('-', '_'),
                Integer.toString(port)));
    return out;
  }

  /** The runtime spec with {@code ${port:NAME}} replaced in every service's env and command. */
  RuntimeSpec substitute(RuntimeSpec spec) {
    if (ports.isEmpty()) {
      return spec;
    }
    List<RuntimeSpec.ServiceSpec> services = new ArrayList<>();
    for (RuntimeSpec.ServiceSpec s : spec.services()) {
      Map<String, String> env = new LinkedHashMap<>();
      s.env().forEach((k, v) -> env.put(k, ports(v)));
      services.add(
          new RuntimeSpec.ServiceSpec(
              s.name(),
              s.cwd(),
              s.command().stream().map(this::ports).toList(),
              env,
              s.envFrom(),
              s.stop(),
              s.expose()));
    }
    return new RuntimeSpec(spec.type(), spec.sharedPaths(), services, spec.compose());
  }

  private String ports(String text) {
    Matcher m = PORT.matcher(text);
    StringBuilder sb = new StringBuilder();
    while (m.find()) {
      Integer p = ports.get(m.group(1));
      m.appendReplacement(sb, Matcher.quoteReplacement(p == null ? m.group(0) : p.toString()));
    }
    m.appendTail(sb);
    return sb.toString();
  }
}
