package io.vtrack.agent.proxy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import tools.jackson.databind.json.JsonMapper;

/**
 * Where a running switch proxy says it is ({@code <stateDir>/proxy/proxy.json}): its PID and the
 * admin address the agent reloads it through. Written by the proxy once it listens.
 */
public record ProxyState(long pid, int adminPort, String adminHost) {
  private static final JsonMapper JSON = JsonMapper.builder().build();

  public static Path file(Path stateDir) {
    return stateDir.resolve("proxy").resolve("proxy.json");
  }

  static void write(Path stateDir, long pid, int adminPort, String adminHost) throws IOException {
    Path f = file(stateDir);
    Files.createDirectories(f.getParent());
    Path tmp = f.resolveSibling("proxy.json.tmp");
    Files.write(tmp, JSON.writeValueAsBytes(new ProxyState(pid, adminPort, adminHost)));
    Files.move(tmp, f, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  /** The state a proxy wrote, or null when there is none (never started, or being replaced). */
  public static ProxyState read(Path stateDir) {
    try {
      return JSON.readValue(Files.readAllBytes(file(stateDir)), ProxyState.class);
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  public String adminUrl() {
    return "http://" + adminHost + ":" + adminPort;
  }
}
