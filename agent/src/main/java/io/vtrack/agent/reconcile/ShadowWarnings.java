package io.vtrack.agent.reconcile;

import io.vtrack.agent.release.DeploymentPaths;
import io.vtrack.agent.release.GitRepositories;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The warnings of a deployment's status: a shared path that git also tracks is shadowed by {@code
 * shared/} (DESIGN.md §2), a release folder gone. The files of a commit never change, so they are
 * read once per commit (a small LRU). Blocking (jgit): call from a worker.
 */
final class ShadowWarnings {
  private static final int CACHED_COMMITS = 64;

  private final GitRepositories repos;
  private final Map<String, Set<String>> filesByCommit =
      new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Set<String>> eldest) {
          return size() > CACHED_COMMITS;
        }
      };

  ShadowWarnings(GitRepositories repos) {
    this.repos = repos;
  }

  List<String> of(Snapshot snap, DeploymentPaths paths) {
    List<String> out = new ArrayList<>();
    String current = snap.row().currentCommit();
    if (snap.doc() == null || snap.doc().spec() == null || current == null) {
      return out;
    }
    List<String> shared = snap.doc().spec().runtime().sharedPaths();
    String url = snap.source().effectiveRepoUrl();
    if (!shared.isEmpty() && url != null) {
      Set<String> files = files(url, current, snap.doc().spec().source().path());
      String prefix = normalizedPrefix(snap.doc().spec().source().path());
      for (String sp : shared) {
        String rel = sp.endsWith("/") ? sp.substring(0, sp.length() - 1) : sp;
        for (String f : files) {
          String inApp =
              prefix.isEmpty()
                  ? f
                  : f.startsWith(prefix + "/") ? f.substring(prefix.length() + 1) : null;
          if (inApp != null && (inApp.equals(rel) || inApp.startsWith(rel + "/"))) {
            out.add("SharedPathShadowsTrackedFile: " + sp);
            break;
          }
        }
      }
    }
    Path release = paths.release(current);
    if (!Files.isDirectory(release)) {
      out.add("ReleaseMissing: " + release);
    }
    return out;
  }

  private Set<String> files(String url, String commit, String path) {
    synchronized (filesByCommit) {
      Set<String> cached = filesByCommit.get(commit);
      if (cached != null) {
        return cached;
      }
    }
    Set<String> files;
    try {
      files = Set.copyOf(repos.listFiles(url, commit, path));
    } catch (Exception e) {
      return Set.of();
    }
    synchronized (filesByCommit) {
      filesByCommit.put(commit, files);
    }
    return files;
  }

  private static String normalizedPrefix(String path) {
    String p = path == null ? "" : path.trim();
    while (p.startsWith("./")) {
      p = p.substring(2);
    }
    if (p.equals(".")) {
      return "";
    }
    while (p.endsWith("/")) {
      p = p.substring(0, p.length() - 1);
    }
    return p;
  }
}
