package io.vtrack.agent.release;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.eclipse.jgit.api.Git;
import org.eclipse.jgit.lib.Constants;
import org.eclipse.jgit.lib.FileMode;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.ObjectLoader;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.revwalk.RevWalk;
import org.eclipse.jgit.treewalk.TreeWalk;
import org.eclipse.jgit.treewalk.filter.PathFilter;

/**
 * The files of one commit in a bare mirror, read with jgit's tree walk: listed, read (YAML
 * documents) or exported into a release folder. Blocking.
 */
final class CommitFiles {
  private CommitFiles() {}

  /** The path of every file under {@code folder} (recursively) of {@code commit}. */
  static Set<String> list(Path mirror, String commit, String folder) throws IOException {
    Set<String> out = new LinkedHashSet<>();
    walkFiles(mirror, commit, folder, (repo, tw) -> out.add(tw.getPathString()));
    return out;
  }

  /**
   * The YAML files ({@code .yaml}, {@code .yml}) under {@code folder} (recursively) of {@code
   * commit}, for desired-state documents; one larger than {@code maxBytes} is not read (its bytes
   * are null).
   */
  static Map<String, GitRepositories.GitFile> readYaml(
      Path mirror, String commit, String folder, long maxBytes) throws IOException {
    Map<String, GitRepositories.GitFile> out = new LinkedHashMap<>();
    walkFiles(
        mirror,
        commit,
        folder,
        (repo, tw) -> {
          String path = tw.getPathString();
          if (path.endsWith(".yaml") || path.endsWith(".yml")) {
            ObjectLoader loader = repo.open(tw.getObjectId(0));
            long size = loader.getSize();
            out.put(
                path,
                new GitRepositories.GitFile(
                    path, size > maxBytes ? null : loader.getBytes(), size));
          }
        });
    return out;
  }

  private interface FileVisitor {
    void visit(Repository repo, TreeWalk tw) throws IOException;
  }

  /** Each regular file (not a link, not a submodule) under {@code folder} of {@code commit}. */
  private static void walkFiles(Path mirror, String commit, String folder, FileVisitor visitor)
      throws IOException {
    walk(
        mirror,
        commit,
        normalizeFolder(folder),
        (repo, tw) -> {
          if (tw.getFileMode(0).getObjectType() == Constants.OBJ_BLOB
              && tw.getFileMode(0) != FileMode.SYMLINK) {
            visitor.visit(repo, tw);
          }
        });
  }

  /** Whether {@code path} (normalized like a folder; empty: the root) is in {@code commit}. */
  static boolean has(Path mirror, String commit, String path) throws IOException {
    String p = normalizeFolder(path);
    if (p.isEmpty()) {
      return true;
    }
    try (Repository repo = Git.open(mirror.toFile()).getRepository();
        RevWalk walk = new RevWalk(repo);
        TreeWalk tw =
            TreeWalk.forPath(repo, p, walk.parseCommit(ObjectId.fromString(commit)).getTree())) {
      return tw != null;
    }
  }

  /** Every entry under {@code prefix} (normalized; empty: all) of {@code commit}, recursively. */
  private static void walk(Path mirror, String commit, String prefix, FileVisitor visitor)
      throws IOException {
    try (Repository repo = Git.open(mirror.toFile()).getRepository();
        RevWalk walk = new RevWalk(repo);
        TreeWalk tw = new TreeWalk(repo)) {
      tw.addTree(walk.parseCommit(ObjectId.fromString(commit)).getTree());
      tw.setRecursive(true);
      if (!prefix.isEmpty()) {
        tw.setFilter(PathFilter.create(prefix));
      }
      while (tw.next()) {
        visitor.visit(repo, tw);
      }
    }
  }

  /**
   * Writes the tree of {@code commit} below {@code subPath} into {@code dest} (which must not
   * exist), keeping executable bits and symlinks. Returns the paths written (relative).
   */
  static List<String> export(Path mirror, String commit, String subPath, Path dest)
      throws IOException {
    String prefix = normalizeFolder(subPath);
    List<String> written = new ArrayList<>();
    Files.createDirectories(dest);
    walk(
        mirror,
        commit,
        prefix,
        (repo, tw) -> {
          String full = tw.getPathString();
          if (full.equals(prefix)) {
            return; // the path names a file: no folder to export
          }
          String rel = prefix.isEmpty() ? full : full.substring(prefix.length() + 1);
          Path target = dest.resolve(rel).normalize();
          FileMode mode = tw.getFileMode(0);
          if (!target.startsWith(dest) || mode == FileMode.GITLINK) {
            return;
          }
          Files.createDirectories(target.getParent());
          byte[] bytes = repo.open(tw.getObjectId(0)).getBytes();
          if (mode == FileMode.SYMLINK) {
            Files.createSymbolicLink(target, Path.of(new String(bytes, StandardCharsets.UTF_8)));
          } else {
            try (OutputStream os = Files.newOutputStream(target)) {
              os.write(bytes);
            }
            if (mode == FileMode.EXECUTABLE_FILE) {
              Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rwxr-xr-x"));
            }
          }
          written.add(rel);
        });
    return written;
  }

  static String normalizeFolder(String folder) {
    if (folder == null) {
      return "";
    }
    String f = folder.trim();
    while (f.startsWith("./")) {
      f = f.substring(2);
    }
    if (f.equals(".") || f.equals("/")) {
      return "";
    }
    while (f.endsWith("/")) {
      f = f.substring(0, f.length() - 1);
    }
    return f;
  }
}
