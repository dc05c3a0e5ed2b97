package io.vtrack.agent.kube;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.vtrack.agent.model.DocumentParser;
import io.vtrack.agent.model.SpecValidator;
import io.vtrack.agent.source.DesiredDocument;
import io.vtrack.agent.source.DocumentReader;
import io.vtrack.agent.source.SourceRef;
import java.util.LinkedHashMap;
import java.util.Map;

/** A {@code VTrackDeployment} resource read as a desired-state document, strictly, like a file. */
final class ResourceDocuments {
  private ResourceDocuments() {}

  /**
   * One resource as a desired-state document: apiVersion, kind, the metadata that matters and the
   * spec exactly as stored, parsed and validated like a file; the generation is {@code
   * metadata.generation}.
   */
  static DesiredDocument toDocument(GenericKubernetesResource r) {
    ObjectMeta m = r.getMetadata();
    Map<String, Object> meta = new LinkedHashMap<>();
    meta.put("name", m.getName());
    meta.put("namespace", m.getNamespace());
    if (m.getLabels() != null && !m.getLabels().isEmpty()) {
      meta.put("labels", m.getLabels());
    }
    if (m.getGeneration() != null) {
      meta.put("generation", m.getGeneration());
    }
    Map<String, Object> doc = new LinkedHashMap<>();
    doc.put("apiVersion", r.getApiVersion());
    doc.put("kind", r.getKind());
    doc.put("metadata", meta);
    doc.put("spec", r.getAdditionalProperties().get("spec"));
    String origin = "kubernetes " + m.getNamespace() + "/" + m.getName();
    String text = DocumentParser.YAML.writeValueAsString(doc);
    DocumentParser.Parsed parsed =
        DocumentParser.parseOne(text, origin, 0, SpecValidator.Context.FILE);
    SourceRef ref =
        new SourceRef(
            "kubernetes",
            "kubernetes",
            null,
            m.getNamespace() + "/" + m.getName(),
            null,
            m.getResourceVersion(),
            null,
            "generation " + m.getGeneration());
    DesiredDocument d = DocumentReader.of(parsed, ref, null);
    String generation = m.getGeneration() == null ? d.generation() : "g" + m.getGeneration();
    // The resource's name is the deployment's, even when the spec cannot be bound.
    return new DesiredDocument(
        m.getName(), d.document(), d.errors(), d.source(), generation, d.effectiveRepoUrl());
  }
}
