package io.vtrack.agent.source;

import io.vtrack.agent.model.DocumentParser;
import io.vtrack.agent.model.SpecValidator;
import io.vtrack.agent.model.VTrackDeployment;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import tools.jackson.databind.MapperFeature;
import tools.jackson.databind.SerializationFeature;
import tools.jackson.databind.json.JsonMapper;

/** Turns the text of a desired-state file into {@link DesiredDocument}s. Pure. */
public final class DocumentReader {
  /**
   * Canonical JSON (sorted keys) of a spec: its hash is the generation of git and file documents.
   */
  public static final JsonMapper CANONICAL =
      JsonMapper.builder()
          .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
          .enable(MapperFeature.SORT_PROPERTIES_ALPHABETICALLY)
          .build();

  private DocumentReader() {}

  /**
   * @param defaultRepoUrl the repository that holds the file (git sources), used when {@code
   *     spec.source.repoURL} is omitted; null for other sources
   */
  public static List<DesiredDocument> read(String text, SourceRef where, String defaultRepoUrl) {
    SpecValidator.Context ctx =
        defaultRepoUrl != null ? SpecValidator.Context.GIT : SpecValidator.Context.FILE;
    List<DesiredDocument> out = new ArrayList<>();
    for (DocumentParser.Parsed p : DocumentParser.parseAll(text, where.file(), ctx)) {
      SourceRef ref =
          new SourceRef(
              where.kind(),
              where.sourceId(),
              where.repoURL(),
              where.file(),
              p.line(),
              where.commit(),
              where.author(),
              where.subject());
      out.add(of(p, ref, defaultRepoUrl));
    }
    return out;
  }

  public static DesiredDocument of(DocumentParser.Parsed p, SourceRef ref, String defaultRepoUrl) {
    VTrackDeployment doc = p.document();
    String generation =
        doc == null || doc.spec() == null
            ? hash(String.valueOf(p.errors()))
            : hash(CANONICAL.writeValueAsString(doc.spec()));
    String repo = null;
    if (doc != null && doc.spec() != null && doc.spec().source() != null) {
      repo = doc.spec().source().repoURL();
      if (repo == null || repo.isBlank()) {
        repo = defaultRepoUrl;
      }
    }
    return new DesiredDocument(p.name(), doc, p.errors(), ref, generation, repo);
  }

  static String hash(String s) {
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(d, 0, 8);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
