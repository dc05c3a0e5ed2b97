package io.vtrack.agent;

import io.vtrack.agent.model.SpecError;
import io.vtrack.agent.reconcile.ExclusiveClaims;
import io.vtrack.agent.reconcile.Reconciler;
import io.vtrack.agent.release.GitRepositories;
import io.vtrack.agent.source.DesiredDocument;
import io.vtrack.agent.source.DesiredStateRegistry;
import io.vtrack.agent.source.SourceRef;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
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

  /**
   * By deployment: its repository, revision and the commit that resolved to at the last fetch.
   * Fetches run on workers, several at once.
   */
  private final Map<String, String> resolved = new ConcurrentHashMap<>();

  /** The documents no deployment can be attributed to, by source, as last logged. */
  private final Map<String, Set<String>> unattributedLogged = new HashMap<>();

  DocumentIntake(GitRepositories repos, DesiredStateRegistry registry, Reconciler reconciler) {
    this.repos = repos;
    this.registry = registry;
    this.reconciler = reconciler;
  }

  /**
   * The documents of {@code docs} by the app repository each names (those naming none left out).
   */
  static Map<String, List<DesiredDocument>> byRepo(List<DesiredDocument> docs) {
    Map<String, List<DesiredDocument>> byRepo = new LinkedHashMap<>();
    for (DesiredDocument d : docs) {
      if (d.effectiveRepoUrl() != null) {
        byRepo.computeIfAbsent(d.effectiveRepoUrl(), u -> new ArrayList<>()).add(d);
      }
    }
    return byRepo;
  }

  /**
   * Fetches the app repository {@code url}, which every one of {@code docs} names; a failure shows
   * in their status. Returns the names of the deployments with news from it: it failed otherwise
   * than at the last fetch, answers again, or moved so that their revision resolves to another
   * commit. A commit that changes nothing a deployment's revision names (a push to main beside a
   * tag) is no news to it: a failure's backoff holds. Blocking.
   */
  Set<String> fetchRepo(String url, List<DesiredDocument> docs) {
    DesiredDocument first = docs.get(0);
    String before = repos.fetchError(url);
    Set<String> news = new HashSet<>();
    try {
      repos.fetch(
          url, first.document() == null ? null : first.document().spec().source().credentials());
      for (DesiredDocument d : docs) {
        // Resolved at every fetch (a ref lookup), so that what each revision named is known.
        if (revisionMoved(url, d) || before != null) {
          news.add(d.name());
        }
      }
    } catch (Exception e) {
      // A repository that fails as it failed at the last fetch has nothing new to say: it is
      // logged once, and its deployments' backoff holds.
      if (!String.valueOf(e.getMessage()).equals(before)) {
        docs.forEach(d -> news.add(d.name()));
        LOG.warn("{}", e.getMessage());
      }
    }
    news.remove(null);
    return news;
  }

  /**
   * After a fetch of {@code url} that another caller made: those of {@code docs} (all naming {@code
   * url}) whose revision now resolves otherwise than before. Blocking (ref lookups).
   */
  Set<String> moved(String url, List<DesiredDocument> docs) {
    Set<String> news = new HashSet<>();
    for (DesiredDocument d : docs) {
      if (revisionMoved(url, d)) {
        news.add(d.name());
      }
    }
    news.remove(null);
    return news;
  }

  /** Whether {@code d}'s revision resolves otherwise than at the last fetch. */
  private boolean revisionMoved(String url, DesiredDocument d) {
    if (d.name() == null || d.document() == null) {
      return true;
    }
    String revision = d.document().spec().source().revision();
    String now;
    try {
      now = url + " " + revision + " " + repos.resolve(url, revision);
    } catch (Exception e) {
      now = url + " " + revision + " unresolved: " + e.getMessage();
    }
    return !now.equals(resolved.put(d.name(), now));
  }

  /**
   * Hands a source's documents to the registry and reconciles what it holds; returns those. {@code
   * news} are the deployments the fetch before found news for ({@link #fetchRepo}). A deployment
   * whose document changed or that has news is reconciled as changed: a failure's backoff gives way
   * to it. The others are looked at again (what blocked them may have gone), but a backoff is not
   * cut short by a source that was read again and said the same: a poll every 300 ms retried a
   * registry that was away every 300 ms.
   */
  Set<String> apply(String sourceId, List<DesiredDocument> docs, String trigger, Set<String> news) {
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
    Map<String, Read> was = new HashMap<>();
    for (String n : registry.names()) {
      was.put(n, Read.of(registry.get(n).document()));
    }
    Set<String> read = registry.update(sourceId, docs);
    Set<String> changed = new TreeSet<>();
    for (String n : read) {
      DesiredStateRegistry.Entry e = registry.get(n);
      if (e == null || !Read.of(e.document()).equals(was.get(n)) || news.contains(n)) {
        changed.add(n);
      }
    }
    Set<String> toChange = ExclusiveClaims.toWake(registry, changed);
    Set<String> woken = ExclusiveClaims.toWake(registry, read);
    for (String name : woken) {
      if (toChange.contains(name)) {
        reconciler.enqueue(name, trigger + " " + sourceId);
      } else {
        reconciler.enqueue(name);
      }
    }
    return woken;
  }

  /** What of a document, read again, means it changed. */
  private record Read(
      String generation, List<SpecError> errors, SourceRef source, String repoUrl, boolean bound) {
    static Read of(DesiredDocument d) {
      return new Read(
          d.generation(), d.errors(), d.source(), d.effectiveRepoUrl(), d.document() != null);
    }
  }
}
