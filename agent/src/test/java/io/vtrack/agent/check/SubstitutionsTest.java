package io.vtrack.agent.check;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SubstitutionsTest {
  @TempDir Path tmp;

  private Substitutions in(Path release) {
    return new Substitutions(
        "0123456789abcdef0123456789abcdef01234567", "v2", release, Map.of("backend", 24001));
  }

  @Test
  void namesTheRevisionItsCommitAndPorts() {
    assertThat(in(tmp).apply("${revision} ${shortCommit} :${port:backend} ${port:db}"))
        .isEqualTo("v2 0123456 :24001 ${port:db}");
  }

  @Test
  void readsAFileOfTheReleaseTrimmed() throws Exception {
    Path release = Files.createDirectories(tmp.resolve("release"));
    Files.writeString(release.resolve("VERSION"), "1.2.3\n");
    assertThat(in(release).apply("version ${file:VERSION}")).isEqualTo("version 1.2.3");
  }

  @Test
  void neverReadsThroughALinkOutOfTheRelease() throws Exception {
    Path release = Files.createDirectories(tmp.resolve("release"));
    Files.writeString(tmp.resolve("secret"), "s3cret");
    Files.createSymbolicLink(release.resolve("VERSION"), tmp.resolve("secret"));
    assertThat(in(release).apply("[${file:VERSION}]")).isEqualTo("[]");
    assertThat(in(release).apply("[${file:../secret}]")).isEqualTo("[]");
  }

  @Test
  void aFileOverOneMebibyteIsNotRead() throws Exception {
    Path release = Files.createDirectories(tmp.resolve("release"));
    Files.write(release.resolve("big.txt"), new byte[(int) Substitutions.MAX_FILE_BYTES + 1]);
    assertThat(in(release).apply("${file:big.txt}"))
        .isEqualTo("${file:big.txt is over 1MiB, not read}");
  }
}
