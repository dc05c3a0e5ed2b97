package io.vtrack.agent.reconcile;

import io.vtrack.agent.model.Commits;
import io.vtrack.agent.model.DeploymentSpec;
import io.vtrack.agent.model.RuntimeSpec;
import io.vtrack.agent.proxy.ProxySupervisor;
import io.vtrack.agent.proxy.Routes;
import io.vtrack.agent.store.Instance;
import io.vtrack.agent.store.StateStore;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the switch proxy serves for each deployment: the public addresses of its live instance (or
 * held, while that instance restarts on restored data), written as a whole so that every other
 * deployment's routes stay as they are, and put back when routes.json drifted from the store.
 * Blocking: call from a worker.
 */
final class ProxyRoutes {
  private static final Logger LOG = LoggerFactory.getLogger(ProxyRoutes.class);

  private final StateStore store;
  private final ProxySupervisor proxy;

  ProxyRoutes(StateStore store, ProxySupervisor proxy) {
    this.store = store;
    this.proxy = proxy;
  }

  /**
   * Why the routes for {@code name} in {@code routesFile} are not those of its live instance, as
   * the store says, or null when they are (or it exposes nothing). Blocking: reads the file.
   */
  static String drift(String name, Instance live, Path routesFile) {
    DeploymentSpec spec = Specs.parse(live.specJson());
    if (spec == null) {
      return null;
    }
    Set<Routes.Route> want = new HashSet<>(routes(name, spec, live));
    if (want.isEmpty()) {
      return null;
    }
    Set<Routes.Route> have = new HashSet<>();
    try {
      for (Routes.Route r : Routes.read(routesFile).routes()) {
        if (name.equals(r.deployment())) {
          have.add(r);
        }
      }
    } catch (IOException e) {
      return e.getMessage();
    }
    if (have.equals(want)) {
      return null;
    }
    return have.isEmpty()
        ? routesFile + " has no route for " + name
        : routesFile + " routes " + name + " as " + describe(have) + ", not " + describe(want);
  }

  private static List<String> describe(Set<Routes.Route> routes) {
    return routes.stream()
        .map(x -> x.listen() + " -> " + x.upstream() + (x.held() ? " (held)" : ""))
        .sorted()
        .toList();
  }

  /**
   * Writes the routes of {@code name}'s live instance again (they were edited, lost or unreadable:
   * {@code why}), and records it.
   */
  void reroute(String name, Instance live, String why) throws Exception {
    DeploymentSpec spec = Specs.parse(live.specJson());
    Routes served = serve(name, routes(name, spec, live));
    String message =
        why
            + "; the routes of the live "
            + live.colour()
            + " instance "
            + Commits.short7(live.commit())
            + " are served again (routes version "
            + served.version()
            + ")";
    LOG.warn("{}: {}", name, message);
    store.events().add(name, "RoutesRestored", "ProxyRoutes", message);
  }

  /** The public addresses of {@code spec} served by {@code i}. */
  static List<Routes.Route> routes(String name, DeploymentSpec spec, Instance i) {
    List<Routes.Route> out = new ArrayList<>();
    for (RuntimeSpec.ServiceSpec s : spec.runtime().services()) {
      if (s.expose() == null) {
        continue;
      }
      Integer port = i == null ? null : i.ports().get(s.name());
      out.add(
          new Routes.Route(
              s.expose().listen(),
              name,
              s.name(),
              port == null ? null : "127.0.0.1:" + port,
              i == null ? null : i.colour() + "/" + Commits.short7(i.commit()),
              spec.blueGreen() == null ? 0 : spec.blueGreen().drainTimeout().millis(),
              false));
    }
    return out;
  }

  /**
   * Holds the requests to {@code name}'s public addresses in the proxy while its live instance
   * restarts on restored data: they wait there instead of failing, and go on to {@code live} once
   * {@link #letThrough let through} (or are answered 503 after {@link Routes.Route#HOLD_MILLIS}).
   */
  void hold(String name, DeploymentSpec spec, Instance live) throws Exception {
    serve(name, routes(name, spec, live).stream().map(x -> x.held(true)).toList());
  }

  /** Lets the requests held for {@code name} go on; nothing when none of its routes is held. */
  void letThrough(String name) throws Exception {
    if (proxy.routes().stream().anyMatch(x -> name.equals(x.deployment()) && x.held())) {
      List<Instance> instances = store.instances().all();
      proxy.switchWith(
          now ->
              with(
                  name,
                  now.stream()
                      .filter(x -> name.equals(x.deployment()))
                      .map(x -> x.held(false))
                      .toList(),
                  now,
                  instances));
    }
  }

  /**
   * Makes sure the proxy runs (started, or adopted) before a step that needs it at once: starting
   * it takes a JVM's start, most of a second.
   */
  void ensureProxy() throws IOException {
    proxy.ensure();
  }

  /**
   * Serves {@code name}'s routes as {@code mine}, every other deployment's as they are;
   * acknowledged by the proxy before this returns.
   */
  Routes serve(String name, List<Routes.Route> mine) throws Exception {
    List<Instance> instances = store.instances().all();
    return proxy.switchWith(now -> with(name, mine, now, instances));
  }

  /**
   * The routes {@code now}, with {@code name}'s replaced by {@code mine}. Another deployment with a
   * live instance in the store but no route in routes.json (the file deleted, or cut short and
   * unreadable) gets its live instance's routes back with them.
   */
  private static List<Routes.Route> with(
      String name, List<Routes.Route> mine, List<Routes.Route> now, List<Instance> instances) {
    List<Routes.Route> out = new ArrayList<>();
    Set<String> routed = new HashSet<>();
    for (Routes.Route x : now) {
      if (!name.equals(x.deployment())) {
        out.add(x);
        routed.add(x.deployment());
      }
    }
    for (Instance i : instances) {
      if (i.role() == Instance.Role.Live
          && !name.equals(i.deployment())
          && !routed.contains(i.deployment())) {
        DeploymentSpec spec = Specs.parse(i.specJson());
        if (spec != null) {
          out.addAll(routes(i.deployment(), spec, i));
        }
      }
    }
    out.addAll(mine);
    return out;
  }

  /**
   * Takes {@code name}'s addresses out of the proxy (its document was removed); a proxy left with
   * nothing to serve stops.
   */
  void unroute(String name) throws Exception {
    if (proxy.routes().stream().anyMatch(x -> name.equals(x.deployment()))) {
      Routes rest = serve(name, List.of());
      if (rest.routes().isEmpty()) {
        proxy.stop();
      }
    }
  }
}
