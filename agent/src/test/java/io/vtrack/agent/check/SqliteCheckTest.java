package io.vtrack.agent.check;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vtrack.agent.model.CheckSpec;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The sqlite check on a real SQLite file: values that are odd or large. */
class SqliteCheckTest {
  private final Vertx vertx = Vertx.vertx();
  private final WorkerExecutor pool = vertx.createSharedWorkerExecutor("sqlite-check-test");
  @TempDir Path tmp;
  private Path db;

  @BeforeEach
  void database() throws Exception {
    db = tmp.resolve("events.db");
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db)) {
      c.createStatement().execute("CREATE TABLE settings (k TEXT, v TEXT)");
      c.createStatement().execute("INSERT INTO settings VALUES ('cameras', '[1, 2]')");
      c.createStatement().execute("INSERT INTO settings VALUES ('broken', NULL)");
      c.createStatement()
          .execute("INSERT INTO settings VALUES ('dump', printf('%.*c', 1000000, 'x'))");
    }
  }

  @AfterEach
  void close() {
    vertx.close().await();
  }

  private CheckResult run(String query, Object equals, boolean json) throws Exception {
    CheckSpec spec =
        new CheckSpec(
            "settings",
            null,
            null,
            new CheckSpec.Sqlite(db.toString(), query, null, null, equals, null, json, null),
            null,
            null,
            null,
            null);
    return new SqliteCheck(spec, pool, db, null, true)
        .run()
        .toCompletionStage()
        .toCompletableFuture()
        .get(30, TimeUnit.SECONDS);
  }

  @Test
  void aNullRowIsNotValidJson() throws Exception {
    CheckResult r = run("SELECT v FROM settings ORDER BY rowid", null, true);
    assertThat(r.status()).isEqualTo(CheckStatus.Failing);
    assertThat(r.message()).isEqualTo("row 2 is not valid JSON: NULL");
  }

  /** A megabyte value is compared whole but shown abbreviated (status, history, messages). */
  @Test
  void aLargeValueIsShownAbbreviated() throws Exception {
    CheckResult r = run("SELECT v FROM settings WHERE k = 'dump'", "ok", false);
    assertThat(r.status()).isEqualTo(CheckStatus.Failing);
    assertThat(r.value().length()).isLessThan(200);
    assertThat(r.message()).hasSizeLessThan(300).endsWith("expected ok");
  }
}
