package io.vtrack.agent.store;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import tools.jackson.databind.json.JsonMapper;

/** The {@code instances} table: the blue-green instances of each deployment. */
public final class InstanceRepository {
  private static final JsonMapper JSON = JsonMapper.builder().build();
  private static final String COLUMNS =
      "deployment, colour, commit_sha, role, ports_json, spec_json, rollout_id, started_at,"
          + " warm_until";

  private final Db db;

  InstanceRepository(Db db) {
    this.db = db;
  }

  public void put(Instance i) throws SQLException {
    db.update(
        "INSERT OR REPLACE INTO instances(" + COLUMNS + ") VALUES (?,?,?,?,?,?,?,?,?)",
        i.deployment(),
        i.colour(),
        i.commit(),
        i.role(),
        JSON.writeValueAsString(i.ports()),
        i.specJson(),
        i.rolloutId(),
        i.startedAt() == null ? Db.now() : i.startedAt(),
        i.warmUntil());
  }

  public void setRole(String deployment, String colour, Instance.Role role, String warmUntil)
      throws SQLException {
    db.update(
        "UPDATE instances SET role = ?, warm_until = ? WHERE deployment = ? AND colour = ?",
        role,
        warmUntil,
        deployment,
        colour);
  }

  public void delete(String deployment, String colour) throws SQLException {
    db.update("DELETE FROM instances WHERE deployment = ? AND colour = ?", deployment, colour);
  }

  public void deleteAll(String deployment) throws SQLException {
    db.update("DELETE FROM instances WHERE deployment = ?", deployment);
  }

  public Optional<Instance> get(String deployment, String colour) throws SQLException {
    return db.first(
        "SELECT " + COLUMNS + " FROM instances WHERE deployment = ? AND colour = ?",
        InstanceRepository::row,
        deployment,
        colour);
  }

  public List<Instance> of(String deployment) throws SQLException {
    return db.query(
        "SELECT " + COLUMNS + " FROM instances WHERE deployment = ? ORDER BY colour",
        InstanceRepository::row,
        deployment);
  }

  public List<Instance> all() throws SQLException {
    return db.query(
        "SELECT " + COLUMNS + " FROM instances ORDER BY deployment, colour",
        InstanceRepository::row);
  }

  @SuppressWarnings("unchecked")
  private static Instance row(ResultSet rs) throws SQLException {
    Map<String, Object> raw = JSON.readValue(rs.getString(5), Map.class);
    Map<String, Integer> ports = new LinkedHashMap<>();
    raw.forEach((k, v) -> ports.put(k, ((Number) v).intValue()));
    long rollout = rs.getLong(7);
    return new Instance(
        rs.getString(1),
        rs.getString(2),
        rs.getString(3),
        Instance.Role.valueOf(rs.getString(4)),
        ports,
        rs.getString(6),
        rs.wasNull() ? null : rollout,
        rs.getString(8),
        rs.getString(9));
  }
}
