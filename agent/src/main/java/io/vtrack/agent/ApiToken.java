package io.vtrack.agent;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.HexFormat;

/** The API bearer token: read from its file, or generated there (mode 0600) when missing. */
public final class ApiToken {
  private ApiToken() {}

  public static String ensure(Path file) throws IOException {
    if (Files.exists(file)) {
      String t = Files.readString(file).trim();
      if (t.isEmpty()) {
        throw new IOException("API token file " + file + " is empty");
      }
      return t;
    }
    Files.createDirectories(file.toAbsolutePath().getParent());
    byte[] b = new byte[32];
    new SecureRandom().nextBytes(b);
    String token = HexFormat.of().formatHex(b);
    Path tmp =
        Files.createTempFile(
            file.toAbsolutePath().getParent(),
            ".api-token",
            ".tmp",
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    Files.writeString(tmp, token + "\n");
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
    return token;
  }
}
