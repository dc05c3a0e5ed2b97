package io.vtrack.agent.model;

import io.fabric8.crd.generator.annotation.SchemaFrom;

public record RollbackSpec(
    Boolean automatic, @SchemaFrom(type = Object.class) RestoreData restoreData) {
  public RollbackSpec {
    automatic = automatic == null || automatic;
    restoreData = restoreData == null ? RestoreData.WhenDamaged : restoreData;
  }
}
