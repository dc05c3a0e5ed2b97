package io.vtrack.agent.model;

public record ReleasesSpec(Integer keep) {
  public ReleasesSpec {
    keep = keep == null ? 5 : keep;
  }
}
