package io.vtrack.agent.api;

import io.vtrack.agent.reconcile.DeploymentStatus;
import io.vtrack.agent.source.DesiredDocument;
import io.vtrack.agent.source.DesiredStateRegistry;
import io.vtrack.agent.store.DeploymentRepository;
import io.vtrack.agent.store.RolloutRecord;
import io.vtrack.agent.store.RolloutRepository;
import io.vtrack.agent.store.StateStore;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import tools.jackson.databind.json.JsonMapper;

/** Builds the API's response objects from the registry and the state store. Blocking (JDBC). */
public final class DeploymentViews {
  private static final JsonMapper JSON = JsonMapper.builder().build();

  private final StateStore store;
  private final io.vtrack.agent.release.GitRepositories repos;

  public DeploymentViews(StateStore store, io.vtrack.agent.release.GitRepositories repos) {
    this.store = store;
    this.repos = repos;
  }

  /** D = {"name", "source", "spec", "status"} (DESIGN.md §4). */
  /**
   * @param withSpec whether to include the spec (commands, env values): for token holders only
   */
  public Map<String, Object> deployment(
      DesiredStateRegistry.Entry entry, DeploymentStatus status, boolean withSpec)
      throws SQLException {
    Map<String, Object> out = new LinkedHashMap<>();
    DesiredDocument doc = entry.document();
    out.put("name", entry.name());
    out.put("source", doc.source());
    // The spec holds commands and env values: shown to token holders only.
    if (withSpec && doc.document() != null && doc.document().spec() != null) {
      out.put("spec", doc.document().spec());
    }
    Object st = status;
    if (st == null) {
      st =
          store
              .deployments()
              .get(entry.name())
              .map(DeploymentRepository.DeploymentRow::statusJson)
              .map(j -> (Object) JSON.readValue(j, Map.class))
              .orElse(Map.of());
    }
    out.put("status", st);
    if (status != null && doc.effectiveRepoUrl() != null && repos != null) {
      // Subjects and authors of the commits the status names, for people reading it.
      Map<String, Object> commits = new LinkedHashMap<>();
      for (String sha :
          new String[] {
            status.desiredCommit(), status.currentCommit(), status.lastHealthyCommit()
          }) {
        if (sha != null && !commits.containsKey(sha)) {
          try {
            var info = repos.commitInfo(doc.effectiveRepoUrl(), sha);
            commits.put(
                sha,
                Map.of(
                    "subject",
                    info.subject(),
                    "author",
                    info.author(),
                    "time",
                    info.time().toString()));
          } catch (Exception e) {
            // A commit no longer in the mirror: leave it out.
          }
        }
      }
      out.put("commits", commits);
    }
    return out;
  }

  /** The rollout record: steps, check results, backup and trigger, newest first. */
  public List<Map<String, Object>> history(String name, int limit) throws SQLException {
    List<Map<String, Object>> items = new ArrayList<>();
    for (RolloutRecord r : store.rollouts().list(name, limit)) {
      items.add(rollout(r));
    }
    return items;
  }

  /** One rollout of a deployment by id, in full; empty when it has no such rollout. */
  public Optional<Map<String, Object>> rollout(String name, long id) throws SQLException {
    RolloutRecord r = store.rollouts().get(id).orElse(null);
    return r == null || !r.deployment().equals(name) ? Optional.empty() : Optional.of(rollout(r));
  }

  public Map<String, Object> rollout(RolloutRecord r) throws SQLException {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("id", r.id());
    m.put("kind", r.kind().text());
    m.put("from", r.fromCommit());
    m.put("to", r.toCommit());
    m.put("revision", r.revision());
    m.put("stage", r.stage());
    m.put("result", r.result());
    m.put("reason", r.reason());
    m.put("message", r.message());
    m.put("restoreData", r.restoreData());
    m.put("dataRestored", r.dataRestored());
    m.put("startedAt", r.startedAt());
    m.put("finishedAt", r.finishedAt());
    if (r.finishedAt() != null) {
      m.put(
          "durationMs",
          Duration.between(Instant.parse(r.startedAt()), Instant.parse(r.finishedAt())).toMillis());
    }
    if (r.triggerJson() != null) {
      m.put("trigger", JSON.readValue(r.triggerJson(), Map.class));
    }
    List<Map<String, Object>> steps = new ArrayList<>();
    for (RolloutRepository.StepRecord s : store.rollouts().steps(r.id())) {
      Map<String, Object> sm = new LinkedHashMap<>();
      sm.put("name", s.step());
      sm.put("result", s.result());
      sm.put("startedAt", s.startedAt());
      sm.put("finishedAt", s.finishedAt());
      if (s.finishedAt() != null) {
        sm.put(
            "durationMs",
            Duration.between(Instant.parse(s.startedAt()), Instant.parse(s.finishedAt()))
                .toMillis());
      }
      sm.put("output", s.output());
      steps.add(sm);
    }
    m.put("steps", steps);
    List<Map<String, Object>> checks = new ArrayList<>();
    for (RolloutRepository.CheckRow c : store.rollouts().checkResults(r.id())) {
      Map<String, Object> cm = new LinkedHashMap<>();
      cm.put("stage", c.stage());
      cm.put("round", c.round());
      cm.put("name", c.name());
      cm.put("kind", c.kind());
      cm.put("status", c.status());
      cm.put("value", c.value());
      cm.put("message", c.message());
      if (c.failure() != null) {
        cm.put("failure", c.failure());
      }
      cm.put("durationMs", c.durationMs());
      cm.put("at", c.at());
      checks.add(cm);
    }
    m.put("checks", checks);
    m.put("events", store.events().ofRollout(r.id()));
    store
        .backups()
        .get(r.id())
        .ifPresent(
            b -> {
              Map<String, Object> bm = new LinkedHashMap<>();
              bm.put("path", b.path());
              bm.put("sizeBytes", b.sizeBytes());
              bm.put("integrity", b.integrity());
              bm.put("createdAt", b.createdAt());
              m.put("backup", bm);
            });
    m.values().removeIf(v -> v == null);
    return m;
  }
}
