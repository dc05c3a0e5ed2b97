package io.vtrack.agent.model;

import java.util.List;

public record NotifySpec(String url, List<String> on) {
  public NotifySpec {
    on = on == null ? List.of("RolledBack", "Failed", "Healthy") : List.copyOf(on);
  }
}
