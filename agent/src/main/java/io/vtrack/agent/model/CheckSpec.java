package io.vtrack.agent.model;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.crd.generator.annotation.SchemaFrom;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.kubernetes.api.model.IntOrString;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** One health check: a name, exactly one kind, and an optional timeout (default 5s). */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record CheckSpec(
    @Required String name,
    @Pattern(SchemaPatterns.DURATION) Interval timeout,
    Http http,
    Sqlite sqlite,
    Log log,
    Latency latency,
    Memory memory,
    Command command) {
  public static final Interval DEFAULT_TIMEOUT = Interval.parse("5s");

  public Interval effectiveTimeout() {
    return timeout == null ? DEFAULT_TIMEOUT : timeout;
  }

  /** The kinds this check declares; a valid check declares exactly one. */
  @JsonIgnore
  public List<String> kinds() {
    List<String> kinds = new ArrayList<>();
    if (http != null) kinds.add("http");
    if (sqlite != null) kinds.add("sqlite");
    if (log != null) kinds.add("log");
    if (latency != null) kinds.add("latency");
    if (memory != null) kinds.add("memory");
    if (command != null) kinds.add("command");
    return kinds;
  }

  @JsonIgnore
  public String kind() {
    List<String> k = kinds();
    return k.size() == 1 ? k.get(0) : null;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Http(
      String url,
      List<Integer> status,
      String contentType,
      List<String> jsonKeys,
      Map<String, Object> json,
      @SchemaFrom(type = IntOrString.class) ByteSize maxBodyBytes) {
    public Http {
      status = status == null ? List.of(200) : List.copyOf(status);
      jsonKeys = jsonKeys == null ? List.of() : List.copyOf(jsonKeys);
      json = json == null ? Map.of() : json;
      maxBodyBytes = maxBodyBytes == null ? new ByteSize(1L << 20) : maxBodyBytes;
    }
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Sqlite(
      String database,
      String query,
      Double min,
      Double max,
      Object equals,
      Boolean noDecrease,
      Boolean json,
      Boolean integrityCheck) {
    public Sqlite {
      noDecrease = noDecrease != null && noDecrease;
      json = json != null && json;
      integrityCheck = integrityCheck != null && integrityCheck;
    }
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Log(String file, String service, String pattern, Integer max) {
    public Log {
      max = max == null ? 0 : max;
    }
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Latency(
      String url,
      Integer samples,
      @Pattern(SchemaPatterns.PERCENT) Percent maxIncrease,
      @Pattern(SchemaPatterns.DURATION) Interval minDelta) {
    public Latency {
      samples = samples == null ? 10 : samples;
      maxIncrease = maxIncrease == null ? new Percent(0.10) : maxIncrease;
      minDelta = minDelta == null ? Interval.parse("20ms") : minDelta;
    }
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Memory(
      String service,
      @Pattern(SchemaPatterns.PERCENT) Percent maxIncrease,
      @SchemaFrom(type = IntOrString.class) ByteSize max) {}

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Command(List<String> command, String cwd) {
    public Command {
      command = command == null ? List.of() : List.copyOf(command);
      cwd = cwd == null || cwd.isBlank() ? "." : cwd;
    }
  }
}
