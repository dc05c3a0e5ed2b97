package io.vtrack.agent.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The one connection to {@code state.db} that every repository shares, with statements, queries and
 * transactions. Every method holds this object's monitor, so statements of different threads never
 * interleave and a transaction is never seen half done. Blocking: call it off the event loop.
 */
final class Db {
  private final Connection conn;
  private int depth;

  Db(Connection conn) {
    this.conn = conn;
  }

  /** Maps one row of a result. */
  @FunctionalInterface
  interface RowMapper<T> {
    T map(ResultSet rs) throws SQLException;
  }

  /**
   * Runs {@code work} in one transaction: all of it is stored, or none of it (a kill in between
   * leaves the store as it was). Nested calls join the outer transaction.
   */
  synchronized <T> T inTransaction(StateStore.Work<T> work) throws SQLException {
    if (depth > 0) {
      depth++;
      try {
        return work.run();
      } finally {
        depth--;
      }
    }
    conn.setAutoCommit(false);
    depth = 1;
    try {
      T out = work.run();
      CrashPoints.reach("store.beforeCommit");
      conn.commit();
      return out;
    } catch (SQLException | RuntimeException e) {
      conn.rollback();
      throw e;
    } finally {
      depth = 0;
      conn.setAutoCommit(true);
    }
  }

  synchronized int update(String sql, Object... args) throws SQLException {
    try (PreparedStatement ps = conn.prepareStatement(sql)) {
      bind(ps, args);
      return ps.executeUpdate();
    }
  }

  /** An INSERT that returns the generated row id. */
  synchronized long insert(String sql, Object... args) throws SQLException {
    try (PreparedStatement ps = conn.prepareStatement(sql, Statement.RETURN_GENERATED_KEYS)) {
      bind(ps, args);
      ps.executeUpdate();
      try (ResultSet keys = ps.getGeneratedKeys()) {
        keys.next();
        return keys.getLong(1);
      }
    }
  }

  synchronized <T> List<T> query(String sql, RowMapper<T> mapper, Object... args)
      throws SQLException {
    List<T> out = new ArrayList<>();
    try (PreparedStatement ps = conn.prepareStatement(sql)) {
      bind(ps, args);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(mapper.map(rs));
        }
      }
    }
    return out;
  }

  <T> Optional<T> first(String sql, RowMapper<T> mapper, Object... args) throws SQLException {
    List<T> r = query(sql, mapper, args);
    return r.isEmpty() ? Optional.empty() : Optional.ofNullable(r.get(0));
  }

  List<String> strings(String sql, Object... args) throws SQLException {
    return query(sql, rs -> rs.getString(1), args);
  }

  /**
   * Runs a batch of the same statement, one row per element of {@code rows}, in one transaction.
   */
  synchronized void batch(String sql, List<Object[]> rows) throws SQLException {
    inTransaction(
        () -> {
          try (PreparedStatement ps = conn.prepareStatement(sql)) {
            for (Object[] r : rows) {
              bind(ps, r);
              ps.addBatch();
            }
            ps.executeBatch();
          }
          return null;
        });
  }

  synchronized Connection connection() {
    return conn;
  }

  static String now() {
    return Instant.now().toString();
  }

  private static void bind(PreparedStatement ps, Object... args) throws SQLException {
    for (int i = 0; i < args.length; i++) {
      Object a = args[i];
      if (a == null) {
        ps.setNull(i + 1, java.sql.Types.NULL);
      } else if (a instanceof Long l) {
        ps.setLong(i + 1, l);
      } else if (a instanceof Integer n) {
        ps.setInt(i + 1, n);
      } else if (a instanceof Boolean b) {
        ps.setInt(i + 1, b ? 1 : 0);
      } else if (a instanceof Enum<?> e) {
        ps.setString(i + 1, e.name());
      } else {
        ps.setString(i + 1, a.toString());
      }
    }
  }
}
