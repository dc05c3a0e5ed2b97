package io.vtrack.agent.reconcile;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vtrack.agent.model.DeletionPolicy;
import io.vtrack.agent.source.DesiredDocument;
import io.vtrack.agent.source.DesiredStateRegistry;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Documents gone from every source: each is shown as deleting, its deletion policy is applied
 * ({@link DeletionHandler}, on a worker) inside its slot, then the agent forgets it. A stopping
 * agent lets the policies being applied finish: an API client already told a deployment is gone
 * must not find half of it running, or a proxy left holding its addresses.
 */
final class Removals {
  private static final Logger LOG = LoggerFactory.getLogger(Removals.class);

  private final Vertx vertx;
  private final DesiredStateRegistry registry;
  private final StatusPublisher publisher;
  private final DeletionHandler deletion;

  /** Deletion policies being applied (see {@link #settled}). */
  private final Set<Future<?>> deleting = new HashSet<>();

  Removals(
      Vertx vertx,
      DesiredStateRegistry registry,
      StatusPublisher publisher,
      DeletionHandler deletion) {
    this.vertx = vertx;
    this.registry = registry;
    this.publisher = publisher;
    this.deletion = deletion;
  }

  /** Registers {@code gone} as leaving, shown with the status the store kept, as deleting. */
  void leaving(DesiredDocument gone, String storedStatusJson) {
    registry.leave(gone);
    publisher.restore(gone.name(), storedStatusJson);
    publisher.deleting(gone.name(), gone.errors().get(0).message());
  }

  /** Applies the deletion policy of {@code name}, then forgets it; completes when done. */
  Future<Void> removed(String name) {
    if (registry.heldElsewhere(name)) {
      // Another agent holds its Lease: it acts on what runs now; this one only lets go.
      LOG.info("{}: held by another agent now; leaving what runs to it", name);
      registry.left(name);
      publisher.forget(name);
      return Future.succeededFuture();
    }
    DesiredStateRegistry.Entry last = registry.leaving(name);
    if (last != null && last.document().valid()) {
      DeletionPolicy policy = last.document().document().spec().deletionPolicy();
      publisher.deleting(
          name,
          "its document left its source: deletionPolicy "
              + policy
              + (policy == DeletionPolicy.Retain
                  ? " (what runs is left running and forgotten)"
                  : " (the services stop; data and backups stay)"));
    }
    Future<Boolean> applied = vertx.executeBlocking(() -> deletion.removed(name), false);
    deleting.add(applied);
    applied.onComplete(ar -> deleting.remove(applied));
    return applied.transform(
        ar -> {
          if (ar.failed()) {
            LOG.warn("{}: cannot apply the deletion policy: {}", name, ar.cause().getMessage());
          }
          registry.left(name);
          publisher.forget(name);
          return Future.succeededFuture();
        });
  }

  /** Completes when the deletion policies being applied have finished, or after {@code max}. */
  Future<Void> settled(Duration max) {
    if (deleting.isEmpty()) {
      return Future.succeededFuture();
    }
    LOG.info("waiting for {} deletion(s) in progress to finish", deleting.size());
    Promise<Void> settled = Promise.promise();
    long timer = vertx.setTimer(Math.max(1, max.toMillis()), id -> settled.tryComplete());
    Future.join(List.copyOf(deleting))
        .onComplete(
            ar -> {
              vertx.cancelTimer(timer);
              settled.tryComplete();
            });
    return settled.future();
  }
}
