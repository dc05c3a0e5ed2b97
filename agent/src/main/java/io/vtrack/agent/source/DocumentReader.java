package io.vtrack.agent.source;

import io.vtrack.agent.model.DocumentParser;
import io.vtrack.agent.model.SpecError;
import io.vtrack.agent.model.SpecValidator;
import io.vtrack.agent.model.VTrackDeployment;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
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
   * The largest desired-state file read: a document is a few kilobytes (a file of a thousand of
   * them fits), and the API server keeps a resource under 1.5 MiB: a larger file is a mistake, not
   * to be parsed at every poll.
   */
  public static final long MAX_FILE_BYTES = 4L << 20;

  /** Why a file of {@code size} bytes is not read. */
  public static String tooLarge(long size) {
    return "the file is "
        + size
        + " bytes: a desired-state file may be at most "
        + MAX_FILE_BYTES
        + " bytes (4 MiB)";
  }

  /**
   * @param defaultRepoUrl the repository that holds the file (git sources), used when {@code
   *     spec.source.repoURL} is omitted; null for other sources
   */
  public static List<DesiredDocument> read(byte[] bytes, SourceRef where, String defaultRepoUrl) {
    if (bytes.length > MAX_FILE_BYTES) {
      return List.of(unreadable(where, tooLarge(bytes.length)));
    }
    String text;
    try {
      text =
          StandardCharsets.UTF_8
              .newDecoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .decode(ByteBuffer.wrap(bytes))
              .toString();
    } catch (CharacterCodingException e) {
      return List.of(unreadable(where, "not valid UTF-8 text"));
    }
    return read(text, where, defaultRepoUrl);
  }

  /**
   * A file that yields no document a deployment can be attributed to (empty, not YAML, not valid
   * UTF-8, unreadable): never a removal of the deployments it held before (DESIGN.md §4).
   */
  public static DesiredDocument unreadable(SourceRef where, String why) {
    return new DesiredDocument(
        null, null, List.of(new SpecError("", null, why)), where, hash(where.file() + why), null);
  }

  public static List<DesiredDocument> read(String text, SourceRef where, String defaultRepoUrl) {
    if (text.isBlank()) {
      return List.of(unreadable(where, "the file is empty"));
    }
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
    if (out.isEmpty() && !DocumentParser.hasContent(text)) {
      out.add(unreadable(where, "the file holds no document (only comments or separators)"));
    }
    // A file of other kinds only (a GitOps folder's ConfigMap) holds none of ours: nothing here.
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
