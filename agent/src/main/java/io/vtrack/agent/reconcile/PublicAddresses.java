package io.vtrack.agent.reconcile;

import io.vtrack.agent.model.DeploymentSpec;
import io.vtrack.agent.model.Reason;
import io.vtrack.agent.source.DesiredDocument;
import io.vtrack.agent.source.DesiredStateRegistry;
import io.vtrack.agent.store.Instance;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * One public address, one deployment. The switch proxy serves every {@code expose.listen} of every
 * blue-green deployment; two documents exposing the same address would hand it to whichever
 * switched last — a copy of a document for a dev build would take the production address. The one
 * that serves it keeps it; the other is {@code Stalled} ({@code InvalidSpec}, naming the address
 * and the deployment that has it); while neither serves it, both are.
 */
public final class PublicAddresses {
  private PublicAddresses() {}

  /** An address {@code field} exposes that the {@code others} expose too. */
  record Shared(String listen, String field, List<String> others) {}

  /** Each public address of a valid blue-green document, with the field that exposes it. */
  static Map<String, String> exposed(DesiredDocument d) {
    Map<String, String> out = new LinkedHashMap<>();
    if (d == null || !d.valid() || d.document().spec().blueGreen() == null) {
      return out;
    }
    DeploymentSpec spec = d.document().spec();
    for (int i = 0; i < spec.runtime().services().size(); i++) {
      var s = spec.runtime().services().get(i);
      if (s.expose() != null && s.expose().listen() != null) {
        out.putIfAbsent(s.expose().listen(), "spec.runtime.services[" + i + "].expose.listen");
      }
    }
    return out;
  }

  /** The addresses {@code name} exposes that other documents expose too. On the event loop. */
  static List<Shared> sharedWith(String name, DesiredStateRegistry registry) {
    DesiredStateRegistry.Entry mine = registry.get(name);
    List<Shared> out = new ArrayList<>();
    if (mine == null) {
      return out;
    }
    Map<String, String> addresses = exposed(mine.document());
    if (addresses.isEmpty()) {
      return out;
    }
    Map<String, List<String>> others = new LinkedHashMap<>();
    for (String other : registry.names()) {
      if (!other.equals(name)) {
        for (String listen : exposed(registry.get(other).document()).keySet()) {
          if (addresses.containsKey(listen)) {
            others.computeIfAbsent(listen, k -> new ArrayList<>()).add(other);
          }
        }
      }
    }
    others.forEach((listen, names) -> out.add(new Shared(listen, addresses.get(listen), names)));
    return out;
  }

  /**
   * The deployments to reconcile besides {@code changed}: while any of them exposes an address,
   * every deployment that exposes one, so that a document given its own address again, or removed,
   * lets the other go on. On the event loop.
   */
  public static Set<String> toWake(DesiredStateRegistry registry, Set<String> changed) {
    Set<String> out = new TreeSet<>(changed);
    boolean any =
        changed.stream()
            .anyMatch(
                n -> {
                  DesiredStateRegistry.Entry e = registry.get(n);
                  DesiredStateRegistry.Entry gone = registry.leaving(n);
                  return !exposed(e == null ? null : e.document()).isEmpty()
                      || !exposed(gone == null ? null : gone.document()).isEmpty();
                });
    if (any) {
      for (String n : registry.names()) {
        if (!exposed(registry.get(n).document()).isEmpty()) {
          out.add(n);
        }
      }
    }
    return out;
  }

  /**
   * Why {@code name} cannot take an address it shares, or null: another deployment serves it (a
   * live instance whose spec exposes it), or nobody does yet.
   */
  static ReconcileError.Stalled blocker(
      String name, List<Shared> shared, List<Instance> instances) {
    for (Shared s : shared) {
      Set<String> servers = servedBy(s.listen(), instances);
      servers.remove(name);
      if (servers.isEmpty() && servedBy(s.listen(), instances).contains(name)) {
        continue; // this deployment has it; the other waits
      }
      String message =
          !servers.isEmpty()
              ? s.field()
                  + ": "
                  + s.listen()
                  + " is the public address of deployment '"
                  + String.join("', '", servers)
                  + "', which serves it: two deployments cannot share one (give this one an"
                  + " address of its own)"
              : s.field()
                  + ": "
                  + s.listen()
                  + " is exposed by deployment '"
                  + String.join("', '", s.others())
                  + "' too, and neither serves it yet: two deployments cannot share one public"
                  + " address (give each its own)";
      return new ReconcileError.Stalled(Reason.InvalidSpec, message);
    }
    return null;
  }

  /** The deployments whose live instance serves {@code listen}. */
  private static Set<String> servedBy(String listen, List<Instance> instances) {
    Set<String> out = new TreeSet<>();
    for (Instance i : instances) {
      if (i.role() != Instance.Role.Live) {
        continue;
      }
      DeploymentSpec spec = Specs.parse(i.specJson());
      if (spec != null
          && spec.runtime().services().stream()
              .anyMatch(s -> s.expose() != null && listen.equals(s.expose().listen()))) {
        out.add(i.deployment());
      }
    }
    return out;
  }
}
