package io.vtrack.agent.check;

import io.vertx.core.WorkerExecutor;
import io.vtrack.agent.Texts;
import io.vtrack.agent.backup.SqliteBackup;
import io.vtrack.agent.model.CheckSpec;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import tools.jackson.databind.json.JsonMapper;

/**
 * A query against the live database, opened so that it cannot write and waits briefly for locks:
 * the app's writers are never blocked. Also {@code PRAGMA quick_check} and the {@code noDecrease}
 * comparison with the same query on this rollout's backup.
 */
final class SqliteCheck extends BlockingCheck {
  private static final JsonMapper JSON = JsonMapper.builder().build();

  private final CheckSpec.Sqlite sql;
  private final Path database;
  private final Double backupValue;
  private final boolean verifying;

  /**
   * @param backupValue the query's value on this rollout's backup (null: no baseline)
   */
  SqliteCheck(
      CheckSpec spec, WorkerExecutor pool, Path database, Double backupValue, boolean verifying) {
    super(spec, pool);
    this.sql = spec.sqlite();
    this.database = database;
    this.backupValue = backupValue;
    this.verifying = verifying;
  }

  @Override
  protected CheckResult check(long start) throws Exception {
    if (!database.toFile().exists()) {
      return result(
              CheckStatus.Failing, null, "database " + sql.database() + " does not exist", start)
          .as(Failure.NotReady);
    }
    try {
      return query(start);
    } catch (java.sql.SQLException e) {
      // No table yet (a migration still to run) or the app holding a lock: not ready, not wrong.
      String m = String.valueOf(e.getMessage());
      return result(CheckStatus.Failing, null, m, start).as(Failure.NotReady);
    }
  }

  private CheckResult query(long start) throws Exception {
    try (Connection c = SqliteBackup.readOnly(database);
        Statement st = c.createStatement()) {
      st.execute("PRAGMA busy_timeout=" + Math.min(1000, spec.effectiveTimeout().millis()));
      st.setQueryTimeout((int) Math.max(1, spec.effectiveTimeout().duration().toSeconds()));
      if (sql.integrityCheck()) {
        try (ResultSet rs = st.executeQuery("PRAGMA quick_check")) {
          String v = rs.next() ? rs.getString(1) : "";
          return "ok".equals(v)
              ? result(CheckStatus.Passing, "ok", "quick_check ok", start)
              : result(CheckStatus.Failing, v, "quick_check: " + v, start);
        }
      }
      try (ResultSet rs = st.executeQuery(sql.query())) {
        if (sql.json()) {
          int rows = 0;
          while (rs.next()) {
            rows++;
            String v = rs.getString(1);
            try {
              if (v == null) {
                throw new IllegalArgumentException("NULL");
              }
              JSON.readTree(v);
            } catch (RuntimeException e) {
              return result(
                  CheckStatus.Failing,
                  v == null ? null : Texts.abbreviate(v, 80),
                  "row "
                      + rows
                      + " is not valid JSON: "
                      + (v == null ? "NULL" : Texts.abbreviate(v, 80)),
                  start);
            }
          }
          return result(
              CheckStatus.Passing, Integer.toString(rows), rows + " rows of valid JSON", start);
        }
        if (!rs.next()) {
          return result(CheckStatus.Failing, null, "query returned no row", start);
        }
        String v = rs.getString(1);
        return judge(v, start);
      }
    }
  }

  private CheckResult judge(String value, long start) {
    // What is shown (status, history, messages) is abbreviated; what is compared is the value.
    String v = value == null ? null : Texts.abbreviate(value, 80);
    if (sql.equals() != null && !HttpCheck.sameValue(sql.equals(), value)) {
      return result(CheckStatus.Failing, v, "value " + v + ", expected " + sql.equals(), start);
    }
    Double num = null;
    try {
      num = value == null ? null : new BigDecimal(value.trim()).doubleValue();
    } catch (NumberFormatException e) {
      if (sql.min() != null || sql.max() != null || sql.noDecrease()) {
        return result(CheckStatus.Failing, v, "value " + v + " is not a number", start);
      }
    }
    if (sql.min() != null && (num == null || num < sql.min())) {
      return result(
          CheckStatus.Failing, v, "value " + v + " is below min " + fmt(sql.min()), start);
    }
    if (sql.max() != null && (num == null || num > sql.max())) {
      return result(
          CheckStatus.Failing, v, "value " + v + " is above max " + fmt(sql.max()), start);
    }
    if (sql.noDecrease() && verifying) {
      if (backupValue == null) {
        return result(CheckStatus.Passing, v, "value " + v + " (no baseline)", start);
      }
      if (num == null || num < backupValue) {
        return result(
            CheckStatus.Failing,
            v,
            "value " + v + " decreased from " + fmt(backupValue) + " before the rollout",
            start);
      }
      return result(
          CheckStatus.Passing, v, "value " + v + " (was " + fmt(backupValue) + ")", start);
    }
    return result(CheckStatus.Passing, v, "value " + v, start);
  }

  private static String fmt(double d) {
    return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
  }
}
