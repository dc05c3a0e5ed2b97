package io.vtrack.agent.model;

import io.fabric8.generator.annotation.Required;
import java.util.List;

public record NotifySpec(@Required String url, List<String> on) {
  public NotifySpec {
    on = on == null ? List.of("RolledBack", "Failed", "Healthy") : List.copyOf(on);
  }
}
