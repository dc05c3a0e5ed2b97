package io.vtrack.agent.source;

import io.vtrack.agent.config.AgentConfig.FileSourceConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Desired-state documents in plain files: a file, or every {@code .yaml}/{@code .yml} under a
 * folder. Changes are noticed by a cheap fingerprint (paths, sizes, modification times) taken at
 * every poll. Blocking.
 */
public final class FileSource {
  private final String id;
  private final FileSourceConfig config;
  private final Path root;

  public FileSource(int index, FileSourceConfig config, Path base) {
    this.config = config;
    this.root = base.resolve(config.path()).toAbsolutePath().normalize();
    this.id = "file[" + index + "]:" + root;
  }

  public String id() {
    return id;
  }

  /** Whether the file or folder is there (a source whose path is missing reads nothing). */
  public boolean exists() {
    return Files.exists(root);
  }

  public FileSourceConfig config() {
    return config;
  }

  private List<Path> files() throws IOException {
    if (!Files.exists(root)) {
      return List.of();
    }
    if (Files.isRegularFile(root)) {
      return List.of(root);
    }
    return documentFiles(root);
  }

  /** The files a folder source reads: every {@code .yaml}/{@code .yml} under it, in order. */
  public static List<Path> documentFiles(Path folder) throws IOException {
    try (Stream<Path> s = Files.walk(folder)) {
      return s.filter(Files::isRegularFile)
          .filter(p -> p.toString().endsWith(".yaml") || p.toString().endsWith(".yml"))
          .sorted()
          .toList();
    }
  }

  /** Changes whenever a file is added, removed or written. */
  public String fingerprint() throws IOException {
    StringBuilder sb = new StringBuilder();
    for (Path p : files()) {
      sb.append(p)
          .append(':')
          .append(Files.size(p))
          .append(':')
          .append(Files.getLastModifiedTime(p).toMillis())
          .append('\n');
    }
    return sb.toString();
  }

  /**
   * Every document of every file. A file that cannot be read (permissions, vanished while read) is
   * reported as unreadable on its own: the other files, and the documents it held, go on.
   */
  public List<DesiredDocument> read() throws IOException {
    List<DesiredDocument> docs = new ArrayList<>();
    for (Path p : files()) {
      SourceRef ref = new SourceRef("file", id, null, p.toString(), null, null, null, null);
      byte[] bytes;
      try {
        long size = Files.size(p);
        if (size > DocumentReader.MAX_FILE_BYTES) {
          docs.add(DocumentReader.unreadable(ref, DocumentReader.tooLarge(size)));
          continue;
        }
        bytes = Files.readAllBytes(p);
      } catch (IOException e) {
        docs.add(
            DocumentReader.unreadable(
                ref, "cannot read the file: " + io.vtrack.agent.IoErrors.describe(e)));
        continue;
      }
      docs.addAll(DocumentReader.read(bytes, ref, null));
    }
    return docs;
  }
}
