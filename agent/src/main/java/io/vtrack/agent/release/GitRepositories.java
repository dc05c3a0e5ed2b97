package io.vtrack.agent.release;

import io.vtrack.agent.model.SourceSpec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.eclipse.jgit.api.Git;
import org.eclipse.jgit.api.TransportCommand;
import org.eclipse.jgit.api.errors.GitAPIException;
import org.eclipse.jgit.lib.ConfigConstants;
import org.eclipse.jgit.lib.Constants;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.Ref;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.lib.StoredConfig;
import org.eclipse.jgit.revwalk.RevCommit;
import org.eclipse.jgit.revwalk.RevWalk;
import org.eclipse.jgit.transport.FetchResult;
import org.eclipse.jgit.transport.RefSpec;
import org.eclipse.jgit.transport.SshTransport;
import org.eclipse.jgit.transport.UsernamePasswordCredentialsProvider;
import org.eclipse.jgit.transport.sshd.SshdSessionFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Local bare mirrors of remote git repositories (jgit), kept under {@code <stateDir>/repos/}.
 * Fetching refreshes a mirror (one fetch per repository at a time, with connect and read timeouts);
 * resolving and reading work on the mirror alone and never wait for a fetch, so an unreachable
 * remote never stops what already runs. All methods block: call them from a worker.
 */
public final class GitRepositories {
  private static final Logger LOG = LoggerFactory.getLogger(GitRepositories.class);
  private final Path root;
  private final Map<String, Object> locks = new ConcurrentHashMap<>();
  private final Map<String, String> fetchErrors = new ConcurrentHashMap<>();
  private final Map<Path, SshdSessionFactory> sshFactories = new ConcurrentHashMap<>();

  /** Commits never change: their subjects and authors are read from the mirror once. */
  private final Map<String, CommitInfo> commitInfos =
      new LinkedHashMap<>(64, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, CommitInfo> eldest) {
          return size() > 1024;
        }
      };

  /** How long a remote may take to connect or to answer a read before a fetch fails. */
  private final Duration timeout;

  /** When the fetch of a repository that runs now started (System.nanoTime), by URL. */
  private final Map<String, Long> fetchingSince = new ConcurrentHashMap<>();

  public GitRepositories(Path root) {
    this(root, Duration.ofSeconds(30));
  }

  public GitRepositories(Path root, Duration timeout) {
    this.root = root;
    this.timeout = timeout;
  }

  /**
   * A file read from a commit: its path relative to the requested folder, its bytes (null when it
   * was too large to read) and its size.
   */
  public record GitFile(String path, byte[] bytes, long size) {}

  /** What a commit says about itself. */
  public record CommitInfo(String sha, String author, String email, String subject, Instant time) {
    static CommitInfo of(RevCommit c) {
      return new CommitInfo(
          c.getName(),
          c.getAuthorIdent().getName(),
          c.getAuthorIdent().getEmailAddress(),
          c.getShortMessage(),
          c.getAuthorIdent().getWhenAsInstant());
    }
  }

  private Object lock(String url) {
    return locks.computeIfAbsent(url, u -> new Object());
  }

  Path mirror(String url) {
    return root.resolve(sha1(url));
  }

  /** The last fetch error of a repository, or null when its last fetch worked. */
  public String fetchError(String url) {
    return fetchErrors.get(url);
  }

  /**
   * Clones the mirror when missing, else fetches every branch and tag (pruning deleted ones).
   * Returns whether anything changed: a clone, a ref that moved, appeared or went, or a failure
   * before this one that is over.
   */
  public boolean fetch(String url, SourceSpec.Credentials credentials)
      throws SourceUnavailableException {
    synchronized (lock(url)) {
      Path dir = mirror(url);
      boolean changed = true;
      fetchingSince.put(url, System.nanoTime());
      try {
        if (!Files.exists(dir.resolve("HEAD"))) {
          // A new mirror is made aside and takes its name once fetched, so a mirror under its
          // name is always complete. What a clone cut short by a crash left is removed first.
          for (Path left : CloneFolders.sweep(root)) {
            LOG.info("removed {}, left by a clone that did not finish", left);
          }
          try (CloneFolders.Claim clone = CloneFolders.claim(root)) {
            try (Git git = Git.init().setBare(true).setDirectory(clone.dir().toFile()).call()) {
              StoredConfig config = git.getRepository().getConfig();
              config.setString("remote", "origin", "url", normalize(url));
              config.setString("remote", "origin", "fetch", "+refs/heads/*:refs/heads/*");
              config.save();
              gcInForeground(config);
              fetchAll(git, credentials);
            }
            Files.move(clone.dir(), dir);
          }
        } else {
          try (Git git = Git.open(dir.toFile())) {
            gcInForeground(git.getRepository().getConfig());
            changed = !fetchAll(git, credentials).getTrackingRefUpdates().isEmpty();
          }
        }
        return fetchErrors.remove(url) != null || changed;
      } catch (GitAPIException | IOException | RuntimeException e) {
        String msg = "cannot fetch " + redact(url) + ": " + io.vtrack.agent.IoErrors.rootMessage(e);
        if (msg.contains("Server key did not validate")) {
          msg +=
              " (its host key is not the one recorded in "
                  + root.resolve("known_hosts")
                  + " or ~/.ssh/known_hosts)";
        }
        fetchErrors.put(url, msg);
        throw new SourceUnavailableException(msg, e);
      } finally {
        fetchingSince.remove(url);
      }
    }
  }

  /** Every branch and tag of origin, deleted ones pruned. */
  private FetchResult fetchAll(Git git, SourceSpec.Credentials credentials)
      throws GitAPIException, IOException {
    return auth(
            git.fetch()
                .setRemote("origin")
                .setRefSpecs(
                    new RefSpec("+refs/heads/*:refs/heads/*"),
                    new RefSpec("+refs/tags/*:refs/tags/*"))
                .setRemoveDeletedRefs(true),
            credentials)
        .call();
  }

  /**
   * jgit's automatic gc after a fetch runs in a background thread by default, unseen by the fetch
   * lock: it raced the next fetch on the same refs, and on a new mirror the rename to its name (its
   * lock file left behind in the mirror, which keeps every later gc from running). Run in the fetch
   * instead, it needs no lock of its own; it does work only past jgit's thresholds.
   */
  private static void gcInForeground(StoredConfig config) throws IOException {
    if (config.getBoolean(
        ConfigConstants.CONFIG_GC_SECTION, ConfigConstants.CONFIG_KEY_AUTODETACH, true)) {
      config.setBoolean(
          ConfigConstants.CONFIG_GC_SECTION, null, ConfigConstants.CONFIG_KEY_AUTODETACH, false);
      config.save();
    }
  }

  public boolean hasMirror(String url) {
    return Files.exists(mirror(url).resolve("HEAD"));
  }

  /** Resolves a tag, branch (its head) or full or short commit SHA to a full commit SHA. */
  public String resolve(String url, String revision)
      throws RevisionNotFoundException, SourceUnavailableException {
    if (!hasMirror(url)) {
      String err = fetchErrors.get(url);
      throw new SourceUnavailableException(
          err != null ? err : "repository " + redact(url) + " has not been fetched yet", null);
    }
    try (Repository repo = Git.open(mirror(url).toFile()).getRepository()) {
      for (String ref : List.of(Constants.R_TAGS + revision, Constants.R_HEADS + revision)) {
        Ref r = repo.exactRef(ref);
        if (r != null) {
          return peel(repo, r.getObjectId()).name();
        }
      }
      if (revision.matches("[0-9a-fA-F]{4,40}")) {
        ObjectId id = repo.resolve(revision + "^{commit}");
        if (id != null) {
          return id.name();
        }
      }
      throw new RevisionNotFoundException(
          "revision '"
              + revision
              + "' is no tag, branch or commit of "
              + redact(url)
              + underWay(url));
    } catch (IOException | RuntimeException e) {
      if (e instanceof org.eclipse.jgit.errors.AmbiguousObjectException) {
        throw new RevisionNotFoundException(
            "revision '" + revision + "' is an ambiguous short SHA");
      }
      throw new SourceUnavailableException(
          "cannot read " + redact(url) + ": " + io.vtrack.agent.IoErrors.rootMessage(e), e);
    }
  }

  /**
   * What to add to "not found" while a fetch of {@code url} runs: the revision may be in what it
   * brings (a document applied moments after its commit was pushed), so the answer is not final.
   */
  private String underWay(String url) {
    Long since = fetchingSince.get(url);
    if (since == null) {
      return "";
    }
    long secs = Math.max(0, (System.nanoTime() - since) / 1_000_000_000L);
    return " as fetched so far; a fetch of it is under way (for "
        + secs
        + " s), and the revision may be in what it brings";
  }

  private static ObjectId peel(Repository repo, ObjectId id) throws IOException {
    try (RevWalk walk = new RevWalk(repo)) {
      return walk.parseCommit(id).getId();
    }
  }

  public CommitInfo commitInfo(String url, String sha) throws IOException {
    String key = url + "@" + sha;
    synchronized (commitInfos) {
      CommitInfo known = commitInfos.get(key);
      if (known != null) {
        return known;
      }
    }
    CommitInfo info;
    try (Repository repo = Git.open(mirror(url).toFile()).getRepository();
        RevWalk walk = new RevWalk(repo)) {
      info = CommitInfo.of(walk.parseCommit(ObjectId.fromString(sha)));
    }
    synchronized (commitInfos) {
      commitInfos.put(key, info);
    }
    return info;
  }

  /** Commits reachable from {@code to} but not from {@code from} (null: all), newest first. */
  public List<CommitInfo> log(String url, String from, String to, int max) throws IOException {
    List<CommitInfo> out = new ArrayList<>();
    try (Repository repo = Git.open(mirror(url).toFile()).getRepository();
        RevWalk walk = new RevWalk(repo)) {
      walk.markStart(walk.parseCommit(ObjectId.fromString(to)));
      if (from != null) {
        walk.markUninteresting(walk.parseCommit(ObjectId.fromString(from)));
      }
      for (RevCommit c : walk) {
        out.add(CommitInfo.of(c));
        if (out.size() >= max) {
          break;
        }
      }
    }
    return out;
  }

  /** The path of every file under {@code folder} (recursively) of {@code commit}. */
  public Set<String> listFiles(String url, String commit, String folder) throws IOException {
    return CommitFiles.list(mirror(url), commit, folder);
  }

  /**
   * The YAML files ({@code .yaml}, {@code .yml}) under {@code folder} (recursively) of {@code
   * commit}, for desired-state documents; one larger than {@code maxBytes} is not read (its bytes
   * are null).
   */
  public Map<String, GitFile> readYamlFiles(String url, String commit, String folder, long maxBytes)
      throws IOException {
    return CommitFiles.readYaml(mirror(url), commit, folder, maxBytes);
  }

  /**
   * Whether {@code folder} (a file or a folder; empty or "." for the root) is in {@code commit}.
   */
  public boolean hasPath(String url, String commit, String folder) throws IOException {
    return CommitFiles.has(mirror(url), commit, folder);
  }

  /**
   * Writes the tree of {@code commit} below {@code subPath} into {@code dest} (which must not
   * exist), keeping executable bits and symlinks. Returns the paths written (relative).
   */
  public List<String> export(String url, String commit, String subPath, Path dest)
      throws IOException {
    return CommitFiles.export(mirror(url), commit, subPath, dest);
  }

  /** The head commit of a branch in the mirror. */
  public String branchHead(String url, String branch)
      throws RevisionNotFoundException, IOException {
    try (Repository repo = Git.open(mirror(url).toFile()).getRepository()) {
      Ref r = repo.exactRef(Constants.R_HEADS + branch);
      if (r == null) {
        throw new RevisionNotFoundException("branch '" + branch + "' not found in " + redact(url));
      }
      return r.getObjectId().name();
    }
  }

  private <C extends TransportCommand<C, ?>> C auth(C cmd, SourceSpec.Credentials credentials)
      throws IOException {
    // Connect and read timeouts: a remote that accepts and never answers fails the fetch, which
    // holds only this repository's fetch lock (reads of the mirror never wait for it).
    cmd.setTimeout((int) Math.max(1, timeout.toSeconds()));
    if (credentials != null && credentials.tokenFile() != null) {
      String token = Files.readString(Path.of(credentials.tokenFile())).trim();
      cmd.setCredentialsProvider(new UsernamePasswordCredentialsProvider("x-access-token", token));
    }
    if (credentials != null && credentials.sshKeyFile() != null) {
      Path key = Path.of(credentials.sshKeyFile()).toAbsolutePath();
      if (!Files.isReadable(key)) {
        throw new IOException("spec.source.credentials.sshKeyFile: cannot read " + key);
      }
      SshdSessionFactory factory = sshFactories.get(key);
      if (factory == null) {
        factory = GitSsh.factory(key, root.resolve("known_hosts"));
        sshFactories.put(key, factory);
      }
      SshdSessionFactory chosen = factory;
      cmd.setTransportConfigCallback(
          t -> {
            if (t instanceof SshTransport ssh) {
              ssh.setSshSessionFactory(chosen);
            }
          });
    }
    return cmd;
  }

  /** jgit takes local paths and file:// URLs alike; a relative path is made absolute. */
  static String normalize(String url) {
    if (url.contains("://") || url.matches("^[\\w.-]+@[\\w.-]+:.*")) {
      return url;
    }
    return Path.of(url).toAbsolutePath().toString();
  }

  /** A URL with any user:password part removed, for messages and logs. */
  public static String redact(String url) {
    return url.replaceAll("://[^/@]+@", "://***@");
  }

  static String sha1(String s) {
    try {
      return HexFormat.of()
          .formatHex(MessageDigest.getInstance("SHA-1").digest(s.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
