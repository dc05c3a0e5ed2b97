package io.vtrack.agent.reconcile;

import io.vtrack.agent.model.DeploymentSpec;
import io.vtrack.agent.model.Reason;
import io.vtrack.agent.model.RuntimeSpec;
import io.vtrack.agent.runtime.ComposeRuntime;
import io.vtrack.agent.source.DesiredDocument;
import io.vtrack.agent.source.DesiredStateRegistry;
import io.vtrack.agent.store.DeploymentRepository.DeploymentRow;
import io.vtrack.agent.store.Instance;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * What one deployment alone may have: its public addresses and its compose projects. The switch
 * proxy serves every {@code expose.listen} of every blue-green deployment, and a compose project is
 * the containers the engine keeps under its name; two documents claiming one would take it from
 * each other — a copy of a document for a dev build would switch the production address to its own
 * release, or replace production's containers. The deployment that has it keeps it; the other is
 * {@code Stalled} ({@code InvalidSpec}, naming what and who has it); while neither has it, both
 * are.
 */
public final class ExclusiveClaims {
  private ExclusiveClaims() {}

  /** What is claimed: a public address or a compose project. */
  public enum Kind {
    ADDRESS("public address"),
    PROJECT("compose project");

    private final String words;

    Kind(String words) {
      this.words = words;
    }

    /** How a message names it ("public address"). */
    public String words() {
      return words;
    }
  }

  /** A claim: {@code key} of {@code kind}, made by {@code field}. */
  public record Claim(Kind kind, String key, String field) {}

  /** A claim {@code field} makes that the {@code others} make too. */
  record Shared(Kind kind, String key, String field, List<String> others) {}

  /** What a valid document claims: its public addresses, and its compose projects. */
  public static List<Claim> claims(DesiredDocument d) {
    return d == null || !d.valid() ? List.of() : claims(d.name(), d.document().spec());
  }

  static List<Claim> claims(String name, DeploymentSpec spec) {
    List<Claim> out = new ArrayList<>();
    if (spec == null || spec.runtime() == null) {
      return out;
    }
    if (spec.blueGreen() != null) {
      for (int i = 0; i < spec.runtime().services().size(); i++) {
        var s = spec.runtime().services().get(i);
        if (s.expose() != null && s.expose().listen() != null) {
          out.add(
              new Claim(
                  Kind.ADDRESS,
                  s.expose().listen(),
                  "spec.runtime.services[" + i + "].expose.listen"));
        }
      }
    }
    if (spec.runtime().type() == RuntimeSpec.RuntimeType.compose) {
      RuntimeSpec.ComposeSpec c = spec.runtime().compose();
      boolean named = c != null && c.project() != null && !c.project().isBlank();
      String field = named ? "spec.runtime.compose.project" : "metadata.name";
      // The colours and the preview run as projects of their own: the names the runtime gives.
      for (String colour : Arrays.asList(null, "blue", "green", PreviewStage.COLOUR)) {
        String project = ComposeRuntime.project(Instance.runtimeKey(name, colour), spec.runtime());
        out.add(new Claim(Kind.PROJECT, project, field));
      }
    }
    return out;
  }

  /** The claims of {@code name}'s document that other documents make too. On the event loop. */
  static List<Shared> sharedWith(String name, DesiredStateRegistry registry) {
    DesiredStateRegistry.Entry mine = registry.get(name);
    List<Shared> out = new ArrayList<>();
    if (mine == null) {
      return out;
    }
    List<Claim> claims = claims(mine.document());
    if (claims.isEmpty()) {
      return out;
    }
    Map<Claim, List<String>> others = new LinkedHashMap<>();
    for (String other : registry.names()) {
      if (other.equals(name)) {
        continue;
      }
      for (Claim theirs : claims(registry.get(other).document())) {
        for (Claim c : claims) {
          if (c.kind() == theirs.kind() && c.key().equals(theirs.key())) {
            List<String> who = others.computeIfAbsent(c, k -> new ArrayList<>());
            if (!who.contains(other)) {
              who.add(other);
            }
          }
        }
      }
    }
    others.forEach((c, names) -> out.add(new Shared(c.kind(), c.key(), c.field(), names)));
    return out;
  }

  /**
   * The deployments to reconcile besides {@code changed}: while any of them claims something, every
   * deployment that does, so that a document that gives up a claim, or is removed, lets the other
   * go on. On the event loop.
   */
  public static Set<String> toWake(DesiredStateRegistry registry, Set<String> changed) {
    Set<String> out = new TreeSet<>(changed);
    boolean any =
        changed.stream()
            .anyMatch(
                n -> {
                  DesiredStateRegistry.Entry e = registry.get(n);
                  DesiredStateRegistry.Entry gone = registry.leaving(n);
                  return !claims(e == null ? null : e.document()).isEmpty()
                      || !claims(gone == null ? null : gone.document()).isEmpty();
                });
    if (any) {
      for (String n : registry.names()) {
        if (!claims(registry.get(n).document()).isEmpty()) {
          out.add(n);
        }
      }
    }
    return out;
  }

  /**
   * Why {@code name} cannot have a claim it shares, or null: another deployment has it (a live
   * instance serving the address; a deployed release running the project), or nobody does yet.
   */
  static ReconcileError.Stalled blocker(
      String name, List<Shared> shared, List<Instance> instances, List<DeploymentRow> rows) {
    for (Shared s : shared) {
      Set<String> holders = holders(s, instances, rows);
      boolean mine = holders.remove(name);
      if (holders.isEmpty() && mine) {
        continue; // this deployment has it; the other waits
      }
      String what = s.field() + ": the " + s.kind().words() + " " + s.key();
      String message =
          !holders.isEmpty()
              ? what
                  + " belongs to deployment '"
                  + String.join("', '", holders)
                  + "', which "
                  + (s.kind() == Kind.ADDRESS ? "serves it" : "runs it")
                  + ": two deployments cannot share one (give this one its own)"
              : what
                  + " is claimed by deployment '"
                  + String.join("', '", s.others())
                  + "' too, and neither has it yet: two deployments cannot share one (give each"
                  + " its own)";
      return new ReconcileError.Stalled(Reason.InvalidSpec, message);
    }
    return null;
  }

  /** The deployments that have {@code s} now. */
  private static Set<String> holders(Shared s, List<Instance> instances, List<DeploymentRow> rows) {
    Set<String> out = new TreeSet<>();
    if (s.kind() == Kind.ADDRESS) {
      for (Instance i : instances) {
        if (i.role() == Instance.Role.Live && claimsOf(i.deployment(), i.specJson(), s)) {
          out.add(i.deployment());
        }
      }
    } else {
      for (DeploymentRow r : rows) {
        if (r.currentCommit() != null && claimsOf(r.name(), r.runningSpecJson(), s)) {
          out.add(r.name());
        }
      }
    }
    return out;
  }

  private static boolean claimsOf(String deployment, String specJson, Shared s) {
    DeploymentSpec spec = specJson == null ? null : Specs.parse(specJson);
    return claims(deployment, spec).stream()
        .anyMatch(c -> c.kind() == s.kind() && c.key().equals(s.key()));
  }
}
