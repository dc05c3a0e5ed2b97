package io.vtrack.agent.model;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

@JsonInclude(JsonInclude.Include.NON_NULL)
public record BackupSpec(List<String> sqlite, List<String> files, Integer keep) {
  public BackupSpec {
    sqlite = sqlite == null ? List.of() : List.copyOf(sqlite);
    files = files == null ? List.of() : List.copyOf(files);
    keep = keep == null ? 3 : keep;
  }

  @JsonIgnore
  public boolean isEmpty() {
    return sqlite.isEmpty() && files.isEmpty();
  }
}
