package io.vtrack.agent.source;

import io.vtrack.agent.config.AgentConfig.GitSourceConfig;
import io.vtrack.agent.release.GitRepositories;
import io.vtrack.agent.release.RevisionNotFoundException;
import io.vtrack.agent.release.SourceUnavailableException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Desired-state documents committed to a git repository: every {@code .yaml}/{@code .yml} file
 * under {@code path} at the head of {@code branch}. Blocking: call {@link #read()} from a worker.
 */
public final class GitSource {
  private static final Logger LOG = LoggerFactory.getLogger(GitSource.class);

  private final String id;
  private final GitSourceConfig config;
  private final GitRepositories repos;

  /** The branch head last found without {@code path} (said once per head). */
  private volatile String warnedHead;

  public GitSource(int index, GitSourceConfig config, GitRepositories repos) {
    this.id =
        "git["
            + index
            + "]:"
            + GitRepositories.redact(config.repoURL())
            + "#"
            + config.branch()
            + ":"
            + config.path();
    this.config = config;
    this.repos = repos;
  }

  public String id() {
    return id;
  }

  public GitSourceConfig config() {
    return config;
  }

  /** The webhook secret, or null when none is configured. */
  public String webhookSecret() throws IOException {
    return config.webhookSecretFile() == null ? null : readSecret(config.webhookSecretFile());
  }

  /**
   * The secret a file holds. An empty one is refused: an HMAC under an empty key is one anybody can
   * compute, so it would let any caller through.
   */
  public static String readSecret(String file) throws IOException {
    String secret = Files.readString(Path.of(file)).trim();
    if (secret.isEmpty()) {
      throw new IOException(file + " is empty");
    }
    return secret;
  }

  /** Fetches the repository and reads every document at the branch head. */
  public List<DesiredDocument> read()
      throws SourceUnavailableException, IOException, RevisionNotFoundException {
    repos.fetch(config.repoURL(), null);
    return readLastFetched();
  }

  /** Whether the repository was fetched before (its mirror is on disk). */
  public boolean fetchedBefore() {
    return repos.hasMirror(config.repoURL());
  }

  /**
   * Every document at the branch head as last fetched, without fetching: what an agent restarted
   * while the git server is away last read from it.
   */
  public List<DesiredDocument> readLastFetched()
      throws SourceUnavailableException, IOException, RevisionNotFoundException {
    String head = repos.branchHead(config.repoURL(), config.branch());
    GitRepositories.CommitInfo info = repos.commitInfo(config.repoURL(), head);
    List<DesiredDocument> docs = new ArrayList<>();
    for (Map.Entry<String, GitRepositories.GitFile> f :
        repos
            .readYamlFiles(config.repoURL(), head, config.path(), DocumentReader.MAX_FILE_BYTES)
            .entrySet()) {
      String path = f.getKey();
      SourceRef ref =
          new SourceRef(
              "git",
              id,
              GitRepositories.redact(config.repoURL()),
              path,
              null,
              head,
              info.author() + " <" + info.email() + ">",
              info.subject());
      if (f.getValue().bytes() == null) {
        docs.add(DocumentReader.unreadable(ref, DocumentReader.tooLarge(f.getValue().size())));
      } else {
        docs.addAll(DocumentReader.read(f.getValue().bytes(), ref, config.repoURL()));
      }
    }
    if (docs.isEmpty()
        && !head.equals(warnedHead)
        && !repos.hasPath(config.repoURL(), head, config.path())) {
      warnedHead = head;
      LOG.warn(
          "{}: path '{}' names nothing at the head of {} ({}): no documents from it",
          id,
          config.path(),
          config.branch(),
          io.vtrack.agent.model.Commits.short7(head));
    }
    return docs;
  }
}
