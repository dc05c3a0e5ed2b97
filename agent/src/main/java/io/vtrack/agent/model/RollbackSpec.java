package io.vtrack.agent.model;

public record RollbackSpec(Boolean automatic, Boolean restoreData) {
  public RollbackSpec {
    automatic = automatic == null || automatic;
    restoreData = restoreData == null || restoreData;
  }
}
