package io.vtrack.agent.source;

import io.vtrack.agent.model.SpecError;
import io.vtrack.agent.model.VTrackDeployment;
import java.util.List;

/**
 * One document as a source read it. {@code document} is null when it could not be bound; {@code
 * errors} lists every rejection; {@code generation} is a hash of the spec.
 */
public record DesiredDocument(
    String name,
    VTrackDeployment document,
    List<SpecError> errors,
    SourceRef source,
    String generation,
    String effectiveRepoUrl) {
  public boolean valid() {
    return document != null && errors.isEmpty();
  }

  /** The label that addresses it to an agent, or null. */
  public String agentLabel() {
    if (document == null || document.metadata() == null) {
      return null;
    }
    return document.metadata().labels().get(VTrackDeployment.AGENT_LABEL);
  }
}
