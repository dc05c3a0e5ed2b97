package io.vtrack.agent.model;

import com.fasterxml.jackson.annotation.JsonInclude;

/** One desired-state document (DESIGN.md §2). */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record VTrackDeployment(
    String apiVersion, String kind, Metadata metadata, DeploymentSpec spec) {
  public static final String API_VERSION = "vtrack.io/v1alpha1";
  public static final String KIND = "VTrackDeployment";
  public static final String AGENT_LABEL = "vtrack.io/agent";

  public String name() {
    return metadata == null ? null : metadata.name();
  }
}
