package io.vtrack.agent.model;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import java.util.List;
import java.util.Map;

/** A {@code prepare:} or {@code validate:} command run in the new release. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record CommandStep(
    @Required String name,
    @Required List<String> command,
    String cwd,
    @Pattern(SchemaPatterns.DURATION) Interval timeout,
    Map<String, String> env) {
  public CommandStep {
    command = command == null ? List.of() : List.copyOf(command);
    cwd = cwd == null || cwd.isBlank() ? "." : cwd;
    timeout = timeout == null ? Interval.parse("5m") : timeout;
    env = env == null ? Map.of() : Map.copyOf(env);
  }
}
