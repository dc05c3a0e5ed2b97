package io.vtrack.agent.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** routes.json as a careless hand may leave it: an IOException that names the file. */
class RoutesFileTest {
  @TempDir Path tmp;

  @Test
  void aWrittenFileReadsBackAndNoneIsNoRoutes() throws Exception {
    Path file = tmp.resolve("proxy/routes.json");
    assertThat(Routes.read(file).routes()).isEmpty();
    Routes r =
        new Routes(
            3,
            List.of(
                new Routes.Route(
                    "127.0.0.1:18080", "app", "backend", "127.0.0.1:4000", "blue/abc", 0, false)));
    r.write(file);
    assertThat(Routes.read(file)).isEqualTo(r);
  }

  @Test
  void aFileThatIsNotRoutesIsAnIoExceptionNamingIt() throws Exception {
    Path file = tmp.resolve("routes.json");
    for (String bad :
        List.of(
            "",
            "{\"version\": 2, \"rout",
            "[]",
            "null",
            "{\"version\": 2, \"routes\": [{}]}",
            "{\"version\": 2, \"routes\": [null]}")) {
      Files.writeString(file, bad);
      assertThatThrownBy(() -> Routes.read(file))
          .as(bad)
          .isInstanceOf(IOException.class)
          .hasMessageContaining(file + " cannot be read");
    }
  }
}
