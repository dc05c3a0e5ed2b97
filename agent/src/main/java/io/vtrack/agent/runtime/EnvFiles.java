package io.vtrack.agent.runtime;

import io.vtrack.agent.model.RuntimeSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the {@code envFrom} files of a service: {@code KEY=VALUE} lines, blank lines and {@code #}
 * comments ignored, one pair of surrounding quotes taken off a value. Read at each start, so a
 * rotated secret reaches the next start; the values go to the process only, never to the store, a
 * log or a response. Blocking.
 */
public final class EnvFiles {
  private EnvFiles() {}

  public static Map<String, String> read(List<RuntimeSpec.EnvFile> files) throws IOException {
    Map<String, String> out = new LinkedHashMap<>();
    for (RuntimeSpec.EnvFile f : files) {
      Path p = Path.of(f.file());
      List<String> lines;
      try {
        lines = Files.readAllLines(p);
      } catch (IOException e) {
        throw new IOException("envFrom: cannot read " + p + ": " + e.getMessage(), e);
      }
      int n = 0;
      for (String raw : lines) {
        n++;
        String line = raw.strip();
        if (line.isEmpty() || line.startsWith("#")) {
          continue;
        }
        if (line.startsWith("export ")) {
          line = line.substring(7).strip();
        }
        int eq = line.indexOf('=');
        if (eq <= 0) {
          // The line itself may be a secret: say where, never what.
          throw new IOException("envFrom: " + p + ":" + n + " is not KEY=VALUE");
        }
        String value = line.substring(eq + 1).strip();
        if (value.length() >= 2
            && (value.startsWith("\"") && value.endsWith("\"")
                || value.startsWith("'") && value.endsWith("'"))) {
          value = value.substring(1, value.length() - 1);
        }
        out.put(line.substring(0, eq).strip(), value);
      }
    }
    return out;
  }
}
