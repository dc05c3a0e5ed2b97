package io.vtrack.agent.model;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import io.fabric8.generator.annotation.Required;
import java.util.List;

/** The spec of a {@link VTrackDeployment}; absent sections are filled with their defaults. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record DeploymentSpec(
    Boolean suspend,
    @Required SourceSpec source,
    RuntimeSpec runtime,
    List<CommandStep> prepare,
    List<CommandStep> validate,
    BackupSpec backup,
    ReleasesSpec releases,
    HealthPolicy health,
    RollbackSpec rollback,
    PromotionSpec promotion,
    @JsonProperty("notify") List<NotifySpec> notifications,
    DeletionPolicy deletionPolicy,
    StrategySpec strategy) {
  public DeploymentSpec {
    suspend = suspend != null && suspend;
    runtime = runtime == null ? new RuntimeSpec(null, null, null, null) : runtime;
    prepare = prepare == null ? List.of() : List.copyOf(prepare);
    validate = validate == null ? List.of() : List.copyOf(validate);
    backup = backup == null ? new BackupSpec(null, null, null) : backup;
    releases = releases == null ? new ReleasesSpec(null) : releases;
    health = health == null ? new HealthPolicy(null, null, null, null, null, null) : health;
    rollback = rollback == null ? new RollbackSpec(null, null) : rollback;
    notifications = notifications == null ? List.of() : List.copyOf(notifications);
    deletionPolicy = deletionPolicy == null ? DeletionPolicy.Stop : deletionPolicy;
  }

  /** The blue-green settings, or null when the strategy is recreate. */
  public StrategySpec.BlueGreen blueGreen() {
    return strategy == null ? null : strategy.blueGreen();
  }

  public boolean suspended() {
    return suspend;
  }
}
