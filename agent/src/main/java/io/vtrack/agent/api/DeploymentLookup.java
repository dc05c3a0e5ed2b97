package io.vtrack.agent.api;

import io.vertx.ext.web.RoutingContext;
import io.vtrack.agent.source.DesiredStateRegistry;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/** The deployment a request names, or a 404 that says which agent was asked. */
final class DeploymentLookup {
  private final DesiredStateRegistry registry;
  private final Supplier<String> agentName;

  DeploymentLookup(DesiredStateRegistry registry, Supplier<String> agentName) {
    this.registry = registry;
    this.agentName = agentName;
  }

  DesiredStateRegistry.Entry entry(RoutingContext rc) {
    return entry(rc, false);
  }

  /**
   * The deployment a request names; with {@code orLeaving}, also one whose document is gone while
   * its deletion policy runs (what reads show until it has run).
   */
  DesiredStateRegistry.Entry entry(RoutingContext rc, boolean orLeaving) {
    String name = rc.pathParam("name");
    DesiredStateRegistry.Entry e = registry.get(name);
    if (e == null && orLeaving) {
      e = registry.leaving(name);
    }
    if (e == null) {
      throw new ApiError(
          404, "NotFound", "no deployment named '" + name + "' on agent " + agentName.get());
    }
    return e;
  }

  /** Every deployment with a document, then those whose deletion policy still runs. */
  List<DesiredStateRegistry.Entry> all() {
    List<DesiredStateRegistry.Entry> entries = new ArrayList<>();
    for (String n : registry.names()) {
      entries.add(registry.get(n));
    }
    for (String n : registry.leavingNames()) {
      entries.add(registry.leaving(n));
    }
    return entries;
  }
}
