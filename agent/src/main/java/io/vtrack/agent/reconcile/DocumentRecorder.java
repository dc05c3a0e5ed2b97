package io.vtrack.agent.reconcile;

import io.vtrack.agent.release.GitRepositories;
import io.vtrack.agent.runtime.Runtimes;
import io.vtrack.agent.source.DesiredDocument;
import io.vtrack.agent.source.DesiredStateRegistry;
import io.vtrack.agent.store.StateStore;
import tools.jackson.databind.json.JsonMapper;

/**
 * The only writes of a reconcile before it plans: the document as read (its spec and generation)
 * and, for an app repository never fetched, its first fetch. An unreadable document never replaces
 * the spec stored before. Blocking: call from a worker.
 */
final class DocumentRecorder {
  private static final JsonMapper JSON = JsonMapper.builder().build();

  private final StateStore store;
  private final GitRepositories repos;
  private final Runtimes runtime;

  DocumentRecorder(StateStore store, GitRepositories repos, Runtimes runtime) {
    this.store = store;
    this.repos = repos;
    this.runtime = runtime;
  }

  void record(DesiredStateRegistry.Entry entry) throws Exception {
    DesiredDocument src = entry.document();
    String source = JSON.writeValueAsString(src.source());
    if (src.valid()) {
      runtime.bind(entry.name(), src.document().spec().runtime());
      store
          .deployments()
          .upsert(entry.name(), source, Specs.json(src.document().spec()), src.generation());
      String url = src.effectiveRepoUrl();
      if (!repos.hasMirror(url)) {
        try {
          repos.fetch(url, src.document().spec().source().credentials());
        } catch (Exception e) {
          // Shown as SourceUnavailable by the read that follows.
        }
      }
    } else if (store.deployments().get(entry.name()).isEmpty()) {
      store.deployments().upsert(entry.name(), source, null, src.generation());
    }
  }
}
