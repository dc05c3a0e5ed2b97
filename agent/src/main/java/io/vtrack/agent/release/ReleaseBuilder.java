package io.vtrack.agent.release;

import io.vtrack.agent.DurableFiles;
import io.vtrack.agent.model.DeploymentSpec;
import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * Builds {@code releases/<commit>/}: one export per commit, so the previous release stays intact
 * for an instant rollback, with each shared path replaced by a link into {@code shared/}. Blocking.
 */
public final class ReleaseBuilder {
  /** How long flushing a release to the disk may take before the rollout goes on without it. */
  public static final Duration SYNC_TIMEOUT = Duration.ofSeconds(30);

  private final GitRepositories repos;
  private final ReleaseSources sources;

  public ReleaseBuilder(GitRepositories repos, ReleaseSources sources) {
    this.repos = repos;
    this.sources = sources;
  }

  /** A release on disk and what building it noticed. */
  public record Release(Path dir, List<String> warnings) {}

  /**
   * Exports {@code commit} into its release folder (reusing a complete one) and links the shared
   * paths, seeding {@code shared/} from the release where it lacks them.
   */
  public Release build(DeploymentPaths paths, String repoUrl, String commit, DeploymentSpec spec)
      throws IOException, SharedPathMissingException, SQLException {
    Path dir = paths.release(commit);
    if (Files.isSymbolicLink(dir)) {
      // A release is always a real folder the agent exported; a link here was not made by it.
      Files.delete(dir);
    }
    if (exportedFromElsewhere(sources, paths, commit, spec)) {
      // Exported from another folder of the commit (the document's path was put right after a
      // rollout of it failed): that release is not this document's, so it is exported again.
      discard(paths, commit);
    }
    List<String> tracked;
    if (isExported(paths, commit)) {
      tracked = List.of();
    } else {
      Files.createDirectories(paths.releases());
      Path tmp = paths.releases().resolve(".tmp-" + commit + "-" + UUID.randomUUID());
      try {
        tracked = repos.export(repoUrl, commit, spec.source().path(), tmp);
        if (tracked.isEmpty()) {
          // Git keeps no empty folder: nothing exported means the path is not a folder there.
          throw new SourcePathNotFoundException(
              "spec.source.path: '"
                  + spec.source().path()
                  + "' names no folder in commit "
                  + io.vtrack.agent.model.Commits.short7(commit)
                  + " of "
                  + GitRepositories.redact(repoUrl));
        }
        linkShared(tmp, paths.shared(), spec.runtime().sharedPaths(), tracked);
        // A release folder under its final name counts as complete and is reused: its files are
        // on the disk before the name is, or a power loss could leave a release of empty files.
        DurableFiles.syncFileSystem(tmp, SYNC_TIMEOUT);
        // Recorded before the release takes its name: a name never stands for an unrecorded export.
        sources.exported(paths.name(), commit, CommitFiles.normalizeFolder(spec.source().path()));
        Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
        DurableFiles.forceFolder(paths.releases());
      } catch (IOException | SharedPathMissingException | SQLException e) {
        deleteTree(tmp);
        throw e;
      }
    }
    // Links are (re)checked on reuse too: a release built before a sharedPaths change needs them.
    List<String> warnings = linkShared(dir, paths.shared(), spec.runtime().sharedPaths(), tracked);
    return new Release(dir, warnings);
  }

  /**
   * Whether {@code commit}'s release is there: a folder under its final name is a complete export
   * (see {@link #build}), which is reused; a link in its place is not one the agent made.
   */
  public static boolean isExported(DeploymentPaths paths, String commit) {
    return Files.isDirectory(paths.release(commit), LinkOption.NOFOLLOW_LINKS);
  }

  /**
   * Whether {@code releases/<commit>/} is there but was exported from another folder of the commit
   * than {@code spec.source.path} names. A release made before the folder was recorded counts as
   * the document's.
   */
  public static boolean exportedFromElsewhere(
      ReleaseSources sources, DeploymentPaths paths, String commit, DeploymentSpec spec)
      throws SQLException {
    String from = sources.exportedFrom(paths.name(), commit);
    return from != null
        && isExported(paths, commit)
        && !from.equals(CommitFiles.normalizeFolder(spec.source().path()));
  }

  /**
   * Removes the release of {@code commit}: first out of its name in one step (a power loss leaves a
   * {@code .tmp-} folder {@link #prune} removes, never half a release), then from the disk.
   */
  private static void discard(DeploymentPaths paths, String commit) throws IOException {
    Path aside = paths.releases().resolve(".tmp-" + commit + "-" + UUID.randomUUID());
    Files.move(paths.release(commit), aside, StandardCopyOption.ATOMIC_MOVE);
    DurableFiles.forceFolder(paths.releases());
    deleteTree(aside);
  }

  /**
   * A copy of {@code commit}'s release as it was prepared (dependencies and build output included)
   * for a snapshot preview, with its shared paths linked into the preview's {@code shared/} instead
   * of the live one.
   */
  public Release copyForPreview(
      DeploymentPaths live,
      DeploymentPaths preview,
      String repoUrl,
      String commit,
      DeploymentSpec spec)
      throws IOException, SharedPathMissingException, SQLException {
    Path from = build(live, repoUrl, commit, spec).dir();
    Path dir = preview.release(commit);
    deleteTree(dir);
    Files.createDirectories(preview.releases());
    copyTree(from, dir);
    return new Release(
        dir, linkShared(dir, preview.shared(), spec.runtime().sharedPaths(), List.of()));
  }

  /**
   * Replaces each shared path in {@code release} by a link into {@code shared}; returns warnings.
   */
  static List<String> linkShared(
      Path release, Path shared, List<String> sharedPaths, List<String> tracked)
      throws IOException, SharedPathMissingException {
    List<String> warnings = new ArrayList<>();
    Set<String> trackedSet = new HashSet<>(tracked);
    for (String sp : sharedPaths) {
      boolean isDir = sp.endsWith("/");
      String rel = isDir ? sp.substring(0, sp.length() - 1) : sp;
      // Strictly inside the release and shared/, never through a link (DESIGN.md §2 sharedPaths).
      Path inRelease = ConfinedPath.child(release, rel);
      Path inShared = ConfinedPath.child(shared.toAbsolutePath(), rel);
      if (Files.isSymbolicLink(inRelease)) {
        if (Files.readSymbolicLink(inRelease).equals(inShared)) {
          continue;
        }
        Files.delete(inRelease);
      }
      boolean releaseHas = Files.exists(inRelease, LinkOption.NOFOLLOW_LINKS);
      boolean shadowsTracked =
          releaseHas
              && (trackedSet.contains(rel)
                  || tracked.stream().anyMatch(t -> t.startsWith(rel + "/")));
      if (!Files.exists(inShared)) {
        Files.createDirectories(inShared.getParent());
        if (releaseHas) {
          copyTree(inRelease, inShared);
        } else if (isDir) {
          Files.createDirectories(inShared);
        } else {
          throw new SharedPathMissingException(
              "shared file '"
                  + sp
                  + "' is missing: it is neither in "
                  + shared
                  + " nor in the release");
        }
      }
      if (shadowsTracked) {
        warnings.add("SharedPathShadowsTrackedFile: " + sp);
      }
      if (releaseHas) {
        deleteTree(inRelease);
      }
      Files.createDirectories(inRelease.getParent());
      Files.createSymbolicLink(inRelease, inShared);
    }
    return warnings;
  }

  /** Removes release folders beyond {@code keep}, oldest first, never those in {@code protect}. */
  public static List<String> prune(DeploymentPaths paths, int keep, Set<String> protect)
      throws IOException {
    List<String> removed = new ArrayList<>();
    if (!Files.isDirectory(paths.releases())) {
      return removed;
    }
    List<Path> releases;
    try (Stream<Path> s = Files.list(paths.releases())) {
      releases =
          s.filter(Files::isDirectory)
              .sorted(Comparator.comparing(ReleaseBuilder::mtime).reversed())
              .toList();
    }
    int kept = 0;
    for (Path r : releases) {
      String name = r.getFileName().toString();
      if (name.startsWith(".tmp-")) {
        deleteTree(r);
        continue;
      }
      if (protect.contains(name) || kept < keep) {
        kept++;
        continue;
      }
      deleteTree(r);
      removed.add(name);
    }
    return removed;
  }

  private static long mtime(Path p) {
    try {
      return Files.getLastModifiedTime(p, LinkOption.NOFOLLOW_LINKS).toMillis();
    } catch (IOException e) {
      return 0;
    }
  }

  static void copyTree(Path from, Path to) throws IOException {
    if (!Files.isDirectory(from, LinkOption.NOFOLLOW_LINKS)) {
      Files.copy(from, to, StandardCopyOption.COPY_ATTRIBUTES, LinkOption.NOFOLLOW_LINKS);
      return;
    }
    Files.walkFileTree(
        from,
        new SimpleFileVisitor<>() {
          @Override
          public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs)
              throws IOException {
            Files.createDirectories(to.resolve(from.relativize(dir).toString()));
            return FileVisitResult.CONTINUE;
          }

          @Override
          public FileVisitResult visitFile(Path file, BasicFileAttributes attrs)
              throws IOException {
            Files.copy(
                file,
                to.resolve(from.relativize(file).toString()),
                StandardCopyOption.COPY_ATTRIBUTES,
                LinkOption.NOFOLLOW_LINKS);
            return FileVisitResult.CONTINUE;
          }
        });
  }

  /** Deletes a file or folder tree without following links out of it. */
  public static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    if (!Files.isDirectory(root, LinkOption.NOFOLLOW_LINKS)) {
      Files.delete(root);
      return;
    }
    Files.walkFileTree(
        root,
        new SimpleFileVisitor<>() {
          @Override
          public FileVisitResult visitFile(Path file, BasicFileAttributes attrs)
              throws IOException {
            Files.delete(file);
            return FileVisitResult.CONTINUE;
          }

          @Override
          public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
            Files.delete(dir);
            return FileVisitResult.CONTINUE;
          }
        });
  }
}
