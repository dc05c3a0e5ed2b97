package io.vtrack.agent.reconcile;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vtrack.agent.LogSetup;
import io.vtrack.agent.model.NotifySpec;
import io.vtrack.agent.notify.Notifier;
import io.vtrack.agent.store.StateStore;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.event.Level;
import tools.jackson.databind.json.JsonMapper;

/**
 * The one writer of status (DESIGN.md §3): computes it with {@link StatusBuilder} on the agent's
 * context, in the order reconciles and rounds happen, stores it (ordered: an older status never
 * lands last), and tells the event stream, the notifier and the listeners (the custom resource's
 * status writer) on transitions.
 */
final class StatusPublisher {
  private static final Logger LOG = LoggerFactory.getLogger(StatusPublisher.class);
  private static final JsonMapper JSON = JsonMapper.builder().build();

  private final Vertx vertx;
  private final StateStore store;
  private final Notifier notifier;
  private final EventStream events;
  private final Map<String, DeploymentStatus> published = new ConcurrentHashMap<>();
  private final List<Consumer<String>> listeners = new ArrayList<>();
  private String failedWrite;

  StatusPublisher(Vertx vertx, StateStore store, Notifier notifier, EventStream events) {
    this.vertx = vertx;
    this.store = store;
    this.notifier = notifier;
    this.events = events;
  }

  void onStatus(Consumer<String> listener) {
    listeners.add(listener);
  }

  /** The last published status, or null. Safe from any thread. */
  DeploymentStatus status(String name) {
    return published.get(name);
  }

  /**
   * Publishes the status a full read gives; stored when what it says, its check results aside,
   * changed (every source poll reads every deployment: a steady one is not written each time).
   */
  Future<Void> publish(
      String name,
      Snapshot snap,
      DeploymentState s,
      List<String> warnings,
      DeploymentStatus.ProxyStatus proxy,
      List<NotifySpec> notify) {
    StatusBuilder.Inputs in =
        new StatusBuilder.Inputs(
            snap.desired(),
            generationOf(snap),
            snap.observed().active(),
            snap.lastRollout(),
            snap.row().currentCommit(),
            snap.row().lastHealthyCommit(),
            snap.verified(),
            snap.quarantined(),
            snap.quarantineReason(),
            s.checks,
            snap.observed().deadServices(),
            s.degraded || s.recovering,
            s.hold,
            warnings,
            s.transientError,
            snap.instances(),
            proxy,
            s.status,
            Instant.now());
    s.lastInputs = in;
    DeploymentStatus st = StatusBuilder.build(in);
    announce(name, s, st, notify);
    return store(name, s, st, false);
  }

  /**
   * Recomputes the status after a check round from what the last full read saw plus the new
   * results: no git or database reads, and a store write only on a transition.
   */
  void refresh(String name, DeploymentState s, List<NotifySpec> notify) {
    StatusBuilder.Inputs last = s.lastInputs;
    if (last == null) {
      return;
    }
    StatusBuilder.Inputs in =
        new StatusBuilder.Inputs(
            last.desired(),
            last.observedGeneration(),
            last.active(),
            last.lastRollout(),
            last.currentCommit(),
            last.lastHealthyCommit(),
            last.verifiedCommits(),
            last.quarantinedCommits(),
            last.quarantineReason(),
            s.checks,
            last.deadServices(),
            s.degraded || s.recovering,
            s.hold,
            last.warnings(),
            s.transientError,
            last.instances(),
            last.proxy(),
            s.status,
            Instant.now());
    DeploymentStatus st = StatusBuilder.build(in);
    boolean transition = s.status == null || !st.sameConditions(s.status);
    announce(name, s, st, notify);
    if (transition) {
      store(name, s, st, true);
    }
  }

  /** Stores {@code st} when it differs from the last stored, check results aside, or always. */
  private Future<Void> store(String name, DeploymentState s, DeploymentStatus st, boolean always) {
    DeploymentStatus said = st.withoutChecks();
    if (!always && said.equals(s.storedStatus)) {
      return Future.succeededFuture();
    }
    s.storedStatus = said;
    return write(name, st).onFailure(err -> s.storedStatus = null);
  }

  /**
   * The deployment's document left its source and its deletion policy runs: its status says so (and
   * is served) until it is {@link #forget forgotten}.
   */
  void deleting(String name, String message) {
    DeploymentStatus st = published.get(name);
    if (st != null) {
      published.put(name, st.deleting(message, Instant.now()));
      LOG.info("{}: {}", name, message);
    }
  }

  /**
   * Serves {@code json}, the status the store kept for {@code name}, until a newer one is made (a
   * deployment that left its source while the agent was stopped); unreadable JSON is skipped.
   */
  void restore(String name, String json) {
    if (json == null || published.containsKey(name)) {
      return;
    }
    try {
      published.put(name, JSON.readValue(json, DeploymentStatus.class));
    } catch (RuntimeException e) {
      LOG.debug("{}: the stored status cannot be read: {}", name, e.getMessage());
    }
  }

  /** A deployment is gone: its status with it. */
  void forget(String name) {
    published.remove(name);
    listeners.forEach(l -> l.accept(name));
  }

  private Future<Void> write(String name, DeploymentStatus st) {
    String json = JSON.writeValueAsString(st);
    // Ordered on the agent's context: writes land in the order they were made.
    return vertx
        .<Void>executeBlocking(
            () -> {
              store.deployments().setStatusJson(name, json);
              return null;
            },
            true)
        .onSuccess(v -> failedWrite = null)
        .onFailure(
            err -> {
              // The status still serves from memory; a store that cannot take it (a full disk)
              // is said once per cause, and shows in Ready through the next reconcile.
              String why = String.valueOf(err.getMessage());
              if (!why.equals(failedWrite)) {
                LOG.warn("{}: cannot store the status: {}", name, why);
              }
              failedWrite = why;
            });
  }

  private void announce(
      String name, DeploymentState s, DeploymentStatus st, List<NotifySpec> notify) {
    DeploymentStatus prev = s.status;
    events.emit(
        "status",
        name,
        "phase",
        st.phase().name(),
        "message",
        st.message(),
        "desiredCommit",
        st.desiredCommit(),
        "currentCommit",
        st.currentCommit(),
        "lastRollout",
        st.lastRollout());
    s.status = st;
    published.put(name, st);
    if (prev == null || prev.phase() != st.phase()) {
      LogSetup.about(
              LOG,
              Level.INFO,
              name,
              st.lastRollout() == null ? null : st.lastRollout().id(),
              st.currentCommit())
          .log("{}: phase {} — {}", name, st.phase(), st.message());
    }
    if (prev != null && prev.phase() != st.phase() && notify != null && notifier != null) {
      notifier.transition(name, prev.phase(), st, notify);
    }
    for (Consumer<String> listener : listeners) {
      listener.accept(name);
    }
  }

  private static Long generationOf(Snapshot snap) {
    if (snap.doc() != null
        && snap.doc().metadata() != null
        && snap.doc().metadata().generation() != null) {
      return snap.doc().metadata().generation();
    }
    return snap.row().generationSeq() == 0 ? null : snap.row().generationSeq();
  }
}
