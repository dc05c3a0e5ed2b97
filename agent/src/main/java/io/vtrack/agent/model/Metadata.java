package io.vtrack.agent.model;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.Map;

@JsonInclude(JsonInclude.Include.NON_NULL)
public record Metadata(
    String name,
    String namespace,
    Map<String, String> labels,
    Map<String, String> annotations,
    Long generation) {
  public Metadata {
    labels = labels == null ? Map.of() : Map.copyOf(labels);
    annotations = annotations == null ? Map.of() : Map.copyOf(annotations);
  }
}
