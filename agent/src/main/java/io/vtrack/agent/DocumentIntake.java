package io.vtrack.agent;

import io.vtrack.agent.reconcile.Reconciler;
import io.vtrack.agent.release.GitRepositories;
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
 * Where the documents a source read go: their app repositories are fetched first (on a worker: a
 * new revision resolves as soon as its document is seen), then the documents go to the registry (on
 * the event loop) and the deployments that changed are reconciled. A document no deployment can be
 * attributed to is logged when it appears, not at every poll while it stays.
 */
final class DocumentIntake {
  private static final Logger LOG = LoggerFactory.getLogger(DocumentIntake.class);

  private final GitRepositories repos;
  private final DesiredStateRegistry registry;
  private final Reconciler reconciler;

  /** The documents no deployment can be attributed to, by source, as last logged. */
  private final Map<String, Set<String>> unattributedLogged = new HashMap<>();

  DocumentIntake(GitRepositories repos, DesiredStateRegistry registry, Reconciler reconciler) {
    this.repos = repos;
    this.registry = registry;
    this.reconciler = reconciler;
  }

  /**
   * Fetches the app repositories of {@code docs}, each once; failures show in their status. Returns
   * the repositories where something changed (or that failed): their deployments need a look, the
   * others do not.
   */
  Set<String> fetchApps(List<DesiredDocument> docs) {
    Set<String> done = new HashSet<>();
    Set<String> changed = new HashSet<>();
    for (DesiredDocument d : docs) {
      String url = d.effectiveRepoUrl();
      if (url == null || !done.add(url)) {
        continue;
      }
      try {
        if (repos.fetch(
            url, d.document() == null ? null : d.document().spec().source().credentials())) {
          changed.add(url);
        }
      } catch (Exception e) {
        changed.add(url);
        LOG.warn("{}", e.getMessage());
      }
    }
    return changed;
  }

  /** Hands a source's documents to the registry and reconciles what changed; returns those. */
  Set<String> apply(String sourceId, List<DesiredDocument> docs, String trigger) {
    // Each problem is logged when it appears, not at every poll while it stays.
    Set<String> before = unattributedLogged.getOrDefault(sourceId, Set.of());
    Set<String> now = new HashSet<>();
    for (DesiredDocument d : docs) {
      if (d.name() == null) {
        String what = d.source().where() + " " + d.errors();
        now.add(what);
        if (!before.contains(what)) {
          LOG.error(
              "{}: {} cannot be attributed to a deployment: {}",
              sourceId,
              d.source().where(),
              d.errors());
        }
      }
    }
    unattributedLogged.put(sourceId, now);
    Set<String> changed = registry.update(sourceId, docs);
    for (String name : io.vtrack.agent.reconcile.ExclusiveClaims.toWake(registry, changed)) {
      reconciler.enqueue(name, trigger + " " + sourceId);
    }
    return changed;
  }
}
