package io.vtrack.agent.model;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import java.util.List;
import java.util.Map;

@JsonInclude(JsonInclude.Include.NON_NULL)
public record RuntimeSpec(
    RuntimeType type, List<String> sharedPaths, List<ServiceSpec> services, ComposeSpec compose) {
  public RuntimeSpec {
    type = type == null ? RuntimeType.process : type;
    sharedPaths = sharedPaths == null ? List.of() : List.copyOf(sharedPaths);
    services = services == null ? List.of() : List.copyOf(services);
  }

  public enum RuntimeType {
    process,
    compose
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record ServiceSpec(
      @Required @Pattern(SchemaPatterns.DNS_LABEL) String name,
      String cwd,
      List<String> command,
      Map<String, String> env,
      List<EnvFile> envFrom,
      StopSpec stop,
      Expose expose) {
    public ServiceSpec {
      cwd = cwd == null || cwd.isBlank() ? "." : cwd;
      command = command == null ? List.of() : List.copyOf(command);
      env = env == null ? Map.of() : Map.copyOf(env);
      envFrom = envFrom == null ? List.of() : List.copyOf(envFrom);
      stop = stop == null ? new StopSpec(null, null) : stop;
    }
  }

  /**
   * Blue-green: the public address the switch proxy owns for this service ({@code host:port}); the
   * service itself listens on {@code ${port:NAME}}.
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Expose(@Required String listen) {}

  /**
   * Environment variables read from a file on the agent's host at each start ({@code KEY=VALUE}
   * lines), for secrets that must not be in the document: their values are never stored, logged or
   * shown. {@code env} of the document wins over a file's value.
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record EnvFile(@Required String file) {}

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record StopSpec(String signal, @Pattern(SchemaPatterns.DURATION) Interval timeout) {
    public StopSpec {
      signal = signal == null ? "TERM" : signal;
      timeout = timeout == null ? Interval.parse("10s") : timeout;
    }
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record ComposeSpec(List<String> files, String project) {
    public ComposeSpec {
      files = files == null ? List.of("docker-compose.yml") : List.copyOf(files);
    }
  }
}
