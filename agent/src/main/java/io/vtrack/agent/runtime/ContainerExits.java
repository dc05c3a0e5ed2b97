package io.vtrack.agent.runtime;

import static io.vtrack.agent.runtime.ComposeRuntime.LABEL_DEPLOYMENT;
import static io.vtrack.agent.runtime.ComposeRuntime.LABEL_SERVICE;

import com.github.dockerjava.api.model.Event;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deaths of a deployment's containers that the agent did not cause, from the engine's events: a
 * container the agent stops or replaces is expected to die; any other {@code die} or {@code oom} is
 * an unexpected exit (with its exit code), and every event about a container the agent did not
 * cause asks for a reconcile. Events arrive on the events thread; safe from any thread.
 */
final class ContainerExits {
  private static final Logger LOG = LoggerFactory.getLogger(ContainerExits.class);

  private final BiConsumer<String, String> onChange;

  /** Unexpected exits by deployment, then service. */
  private final Map<String, Map<String, String>> exits = new ConcurrentHashMap<>();

  /** The one-shot services of each deployment: their exit with code 0 is their end, not a death. */
  private final Map<String, Set<String>> oneShots = new ConcurrentHashMap<>();

  /** Containers the agent itself stops or replaces: their die and destroy events are expected. */
  private final Set<String> expectedGone = ConcurrentHashMap.newKeySet();

  /**
   * @param onChange told (deployment, service) of an event the agent did not cause
   */
  ContainerExits(BiConsumer<String, String> onChange) {
    this.onChange = onChange;
  }

  /** The agent stops or replaces this container: its death is not an exit. */
  void expectGone(String containerId) {
    expectedGone.add(containerId);
  }

  /** The services of {@code deployment} that run once and exit (see ComposeFiles.oneShots). */
  void oneShots(String deployment, Set<String> services) {
    oneShots.put(deployment, Set.copyOf(services));
  }

  /** Forgets the exits of a deployment (its services start again). */
  void clear(String deployment) {
    exits.remove(deployment);
  }

  /** Forgets the exits of some services of a deployment (they are recreated). */
  void clear(String deployment, Collection<String> services) {
    Map<String, String> ex = exits.get(deployment);
    if (ex != null) {
      services.forEach(ex::remove);
    }
  }

  /** The unexpected exits of a deployment's services, described. */
  List<String> of(String deployment) {
    Map<String, String> ex = exits.get(deployment);
    return ex == null ? List.of() : List.copyOf(ex.values());
  }

  void onEvent(Event e) {
    Map<String, String> attrs =
        e.getActor() == null || e.getActor().getAttributes() == null
            ? Map.of()
            : e.getActor().getAttributes();
    String deployment = attrs.get(LABEL_DEPLOYMENT);
    if (deployment == null) {
      return;
    }
    String service = attrs.getOrDefault(LABEL_SERVICE, "?");
    String action = e.getAction() == null ? String.valueOf(e.getStatus()) : e.getAction();
    String id = e.getId();
    boolean expected = id != null && expectedGone.contains(id);
    // Gone, or started again (a stopped container the next `up` starts): its next death is news.
    if (("destroy".equals(action) || "start".equals(action)) && id != null) {
      expectedGone.remove(id);
    }
    String code = attrs.get("exitCode");
    if (!expected
        && "die".equals(action)
        && "0".equals(code)
        && oneShots.getOrDefault(deployment, Set.of()).contains(service)) {
      LOG.info(
          "{}: {} (container {}) ran to completion",
          deployment,
          service,
          ComposeRuntime.shortId(id));
      return;
    }
    if (!expected && ("die".equals(action) || "oom".equals(action))) {
      String what =
          service
              + " (container "
              + ComposeRuntime.shortId(id)
              + ") "
              + ("oom".equals(action) ? "was killed for lack of memory" : "exited")
              + (code == null ? "" : " with code " + code);
      exits.computeIfAbsent(deployment, k -> new ConcurrentHashMap<>()).put(service, what);
      LOG.warn("{}: {}", deployment, what);
    }
    if (!expected) {
      onChange.accept(deployment, service);
    }
  }
}
