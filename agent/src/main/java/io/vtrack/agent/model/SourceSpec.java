package io.vtrack.agent.model;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.generator.annotation.Required;

@JsonInclude(JsonInclude.Include.NON_NULL)
public record SourceSpec(
    String repoURL, @Required String revision, String path, Credentials credentials) {
  public SourceSpec {
    path = path == null || path.isBlank() ? "." : path;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Credentials(String tokenFile, String sshKeyFile) {}
}
