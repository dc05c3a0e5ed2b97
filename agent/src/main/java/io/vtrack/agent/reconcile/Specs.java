package io.vtrack.agent.reconcile;

import io.vtrack.agent.model.DeploymentSpec;
import io.vtrack.agent.source.DocumentReader;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Specs as the store keeps them (canonical JSON), and the part of a spec that decides what runs.
 */
final class Specs {
  private Specs() {}

  /** A stored spec, or null when none was stored (a store from before specs were kept). */
  static DeploymentSpec parse(String json) {
    if (json == null) {
      return null;
    }
    return DocumentReader.CANONICAL.readValue(json, DeploymentSpec.class);
  }

  static String json(DeploymentSpec spec) {
    return DocumentReader.CANONICAL.writeValueAsString(spec);
  }

  /**
   * What a running release is made of besides its commit: the app's path, the runtime (services,
   * commands, env, stop signals, compose files, shared paths) and the prepare steps. A change to
   * any of them rolls out the same commit again; health, backup and notification settings apply
   * without a restart.
   */
  static String runtimeIdentity(DeploymentSpec spec) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("path", spec.source().path());
    m.put("runtime", spec.runtime());
    m.put("prepare", spec.prepare());
    return DocumentReader.CANONICAL.writeValueAsString(m);
  }
}
