package io.vtrack.agent.kube;

import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.ObjectReferenceBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.vertx.core.Vertx;
import io.vtrack.agent.model.Phase;
import io.vtrack.agent.reconcile.DeploymentStatus;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.json.JsonMapper;

/**
 * Writes the status of DESIGN.md §3 of each deployment that came from a {@link KubeSource} to the
 * resource's status subresource — only when it really changed: check results keep their name, kind
 * and status there (values and timings change every round and live in the HTTP API), so a passing
 * round writes nothing. A phase change also records a Kubernetes Event on the resource. Runs on the
 * event loop; API calls go to a worker.
 */
public final class KubeStatusWriter {
  private static final Logger LOG = LoggerFactory.getLogger(KubeStatusWriter.class);
  private static final JsonMapper JSON = JsonMapper.builder().build();
  private static final Set<Phase> WARNING =
      EnumSet.of(Phase.Failed, Phase.RolledBack, Phase.Degraded, Phase.Stalled);

  private final Vertx vertx;
  private final KubeSource source;
  private final String agentName;
  private final Function<String, DeploymentStatus> statusOf;
  private final Map<String, Map<String, Object>> written = new HashMap<>();
  private final Map<String, Phase> phases = new HashMap<>();
  private long writes;

  public KubeStatusWriter(
      Vertx vertx,
      KubeSource source,
      String agentName,
      Function<String, DeploymentStatus> statusOf) {
    this.vertx = vertx;
    this.source = source;
    this.agentName = agentName;
    this.statusOf = statusOf;
  }

  /** How many status writes reached the API server. */
  public synchronized long writes() {
    return writes;
  }

  /** The status of {@code name} changed (or it was removed); on the event loop. */
  public void onStatus(String name) {
    DeploymentStatus st = statusOf.apply(name);
    if (st == null) {
      written.remove(name);
      phases.remove(name);
      if (source.deleting(name)) {
        vertx.executeBlocking(
            () -> {
              source.removalHandled(name);
              return null;
            },
            true);
      }
      return;
    }
    KubeSource.ObjectRef ref = source.ref(name);
    if (ref == null) {
      return;
    }
    Map<String, Object> body = forResource(st);
    if (body.equals(written.get(name))) {
      return;
    }
    written.put(name, body);
    Phase before = phases.put(name, st.phase());
    boolean transition = before != null && before != st.phase();
    vertx
        .executeBlocking(
            () -> {
              write(ref, body);
              if (transition || before == null) {
                event(ref, before, st);
              }
              return null;
            },
            true) // in order: an older status never lands after a newer one
        .onFailure(
            err -> {
              // Written again with the next status change or resync.
              written.remove(name);
              LOG.warn(
                  "{}: cannot write the status of {}/{}: {}",
                  source.id(),
                  ref.namespace(),
                  ref.name(),
                  err.getMessage());
            });
  }

  /** The status as stored on the resource: §3, with check results reduced to what is stable. */
  @SuppressWarnings("unchecked")
  static Map<String, Object> forResource(DeploymentStatus st) {
    Map<String, Object> m = JSON.convertValue(st, LinkedHashMap.class);
    Object checks = m.get("checks");
    if (checks instanceof List<?> list) {
      List<Map<String, Object>> stable = new ArrayList<>();
      for (Object o : list) {
        Map<String, Object> c = (Map<String, Object>) o;
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("name", c.get("name"));
        s.put("kind", c.get("kind"));
        s.put("status", c.get("status"));
        stable.add(s);
      }
      m.put("checks", stable);
    }
    return m;
  }

  private void write(KubeSource.ObjectRef ref, Map<String, Object> body) {
    source
        .client()
        .genericKubernetesResources(KubeSource.CONTEXT)
        .inNamespace(ref.namespace())
        .withName(ref.name())
        .editStatus(
            r -> {
              r.setAdditionalProperty("status", body);
              return r;
            });
    synchronized (this) {
      writes++;
    }
  }

  private void event(KubeSource.ObjectRef ref, Phase before, DeploymentStatus st) {
    String now = Instant.now().toString();
    try {
      var resource =
          source
              .client()
              .genericKubernetesResources(KubeSource.CONTEXT)
              .inNamespace(ref.namespace())
              .withName(ref.name())
              .get();
      String uid = resource == null ? null : resource.getMetadata().getUid();
      var ev =
          new EventBuilder()
              .withNewMetadata()
              .withName(ref.name() + "." + Long.toHexString(System.nanoTime()))
              .withNamespace(ref.namespace())
              .endMetadata()
              .withInvolvedObject(
                  new ObjectReferenceBuilder()
                      .withApiVersion("vtrack.io/v1alpha1")
                      .withKind("VTrackDeployment")
                      .withNamespace(ref.namespace())
                      .withName(ref.name())
                      .withUid(uid)
                      .build())
              .withType(WARNING.contains(st.phase()) ? "Warning" : "Normal")
              .withReason(st.phase().name())
              .withMessage(
                  (before == null ? "" : before.name() + " -> " + st.phase().name() + ": ")
                      + st.message())
              .withFirstTimestamp(now)
              .withLastTimestamp(now)
              .withCount(1)
              .withNewSource()
              .withComponent("vtrack-agent")
              .withHost(agentName)
              .endSource()
              .withReportingComponent("vtrack-agent")
              .withReportingInstance(agentName)
              .build();
      source.client().v1().events().inNamespace(ref.namespace()).resource(ev).create();
    } catch (KubernetesClientException e) {
      LOG.warn("cannot record an event for {}/{}: {}", ref.namespace(), ref.name(), e.getMessage());
    }
  }
}
