package io.vtrack.agent;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vtrack.agent.reconcile.Reconciler;
import io.vtrack.agent.source.DesiredDocument;
import io.vtrack.agent.source.DesiredStateRegistry;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The fetches of the app repositories the documents name: one at a time per repository, the
 * documents read from a source waiting for them a short while, and the deployments with news from a
 * fetch that ended later looked at then. Confined to the agent's context.
 */
final class AppFetches {
  private static final Logger LOG = LoggerFactory.getLogger(AppFetches.class);

  /**
   * How long the documents a source read wait for the fetch of their app repositories before they
   * are applied without it: a new revision resolves as soon as its document is seen when the fetch
   * is quick, and a remote that hangs (up to {@code gitTimeout}) does not hold up an edit of the
   * source's documents, its other deployments or {@code vtrack reconcile}.
   */
  static final long APPS_WAIT_MILLIS = 3_000;

  private final Vertx vertx;
  private final FeedWorkers workers;
  private final DocumentIntake intake;
  private final DesiredStateRegistry registry;
  private final Reconciler reconciler;

  /** The app repositories being fetched, each with its fetch (on the event loop). */
  private final Map<String, Future<Void>> fetching = new HashMap<>();

  AppFetches(
      Vertx vertx,
      FeedWorkers workers,
      DocumentIntake intake,
      DesiredStateRegistry registry,
      Reconciler reconciler) {
    this.vertx = vertx;
    this.workers = workers;
    this.intake = intake;
    this.registry = registry;
    this.reconciler = reconciler;
  }

  /**
   * Fetches the app repositories of {@code docs}, each on a worker of its own, and completes with
   * the deployments that have news ({@link DocumentIntake#fetchRepo}), or with those known once
   * {@link #APPS_WAIT_MILLIS} have passed: the caller then goes on with the repositories as they
   * are, and a deployment with news found later is looked at then ({@code trigger}). A repository
   * whose fetch is under way for another caller is not fetched twice: with {@code join}, these
   * documents' revisions are resolved again once that fetch ends; without, it is left to it.
   */
  Future<Set<String>> fetch(List<DesiredDocument> docs, boolean join, String trigger) {
    Map<String, List<DesiredDocument>> byRepo = DocumentIntake.byRepo(docs);
    Set<String> news = new HashSet<>();
    Promise<Set<String>> answer = Promise.promise();
    int[] left = {byRepo.size()};
    long timer = vertx.setTimer(APPS_WAIT_MILLIS, id -> answer.tryComplete(Set.copyOf(news)));
    Runnable oneDone =
        () -> {
          if (--left[0] <= 0) {
            vertx.cancelTimer(timer);
            answer.tryComplete(Set.copyOf(news));
          }
        };
    byRepo.forEach(
        (url, repoDocs) -> {
          Future<Void> running = fetching.get(url);
          Future<Set<String>> one;
          if (running == null) {
            one = workers.fetch(() -> intake.fetchRepo(url, repoDocs));
            Future<Void> done = one.<Void>mapEmpty().otherwiseEmpty();
            fetching.put(url, done);
            done.onComplete(ar -> fetching.remove(url, done));
          } else if (join) {
            one = running.compose(v -> workers.read(() -> intake.moved(url, repoDocs)));
          } else {
            oneDone.run();
            return;
          }
          one.onComplete(
              ar -> {
                if (ar.failed()) {
                  LOG.warn("{}", ar.cause().getMessage());
                }
                Set<String> found = ar.succeeded() ? ar.result() : Set.of();
                if (answer.future().isComplete()) {
                  // Late: the documents went on without it.
                  for (String n : found) {
                    if (registry.get(n) != null) {
                      reconciler.enqueue(n, trigger);
                    }
                  }
                } else {
                  news.addAll(found);
                }
                oneDone.run();
              });
        });
    if (byRepo.isEmpty()) {
      oneDone.run();
    }
    return answer.future();
  }
}
