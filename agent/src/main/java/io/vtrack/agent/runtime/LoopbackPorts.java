package io.vtrack.agent.runtime;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.IntPredicate;

/**
 * Free loopback ports for the instances of apps, from below the kernel's ephemeral range. A port
 * chosen there (what binding port 0 gives) is free only until the app binds it, a moment to seconds
 * later, and meanwhile any outgoing connection on the host may take it as its source port — most of
 * all the switch proxy's own, which opens one per request to an app that closes each (HTTP/1.0):
 * the app then cannot listen and a good commit fails. Below the ephemeral range no connection takes
 * a port by itself. Kubernetes' NodePort range (30000-32767) is left alone too.
 */
public final class LoopbackPorts {
  private LoopbackPorts() {}

  static final int LOW = 20_000;
  static final int HIGH = 29_999;
  private static final Path EPHEMERAL = Path.of("/proc/sys/net/ipv4/ip_local_port_range");

  /**
   * The ports handed out, {@code [low, high]}, or null when the ephemeral range leaves too few
   * below it (then the kernel chooses, as for port 0).
   */
  public static int[] range() {
    int ephemeralLow = 32_768;
    try {
      // Read by lines: Files.readString of a sysctl file can return its first byte only.
      ephemeralLow =
          Integer.parseInt(Files.readAllLines(EPHEMERAL).get(0).strip().split("\\s+")[0]);
    } catch (IOException | RuntimeException e) {
      // Not Linux, or not readable: Linux's default.
    }
    int high = Math.min(HIGH, ephemeralLow - 1);
    return high - LOW < 1000 ? null : new int[] {LOW, high};
  }

  /**
   * A socket bound to a free loopback port that {@code usable} accepts; the caller closes it right
   * before the app binds the port (holding it meanwhile keeps it from being handed out twice).
   */
  public static ServerSocket bindFree(IntPredicate usable) throws IOException {
    int[] r = range();
    if (r != null) {
      for (int attempt = 0; attempt < 512; attempt++) {
        int port = ThreadLocalRandom.current().nextInt(r[0], r[1] + 1);
        if (!usable.test(port)) {
          continue;
        }
        try {
          return new ServerSocket(port, 1, InetAddress.getLoopbackAddress());
        } catch (IOException taken) {
          // In use: another.
        }
      }
    }
    for (int attempt = 0; attempt < 64; attempt++) {
      ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
      if (usable.test(s.getLocalPort())) {
        return s;
      }
      s.close();
    }
    throw new IOException("no free loopback port" + (r == null ? "" : " in " + r[0] + "-" + r[1]));
  }
}
