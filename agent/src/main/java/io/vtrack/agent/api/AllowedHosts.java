package io.vtrack.agent.api;

import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The {@code Host} names the API answers to. A web page can make a browser send requests to the
 * agent through a name that resolves to 127.0.0.1 (DNS rebinding); only an IP literal, {@code
 * localhost}, the agent's and the machine's names and {@code allowedHosts} of agent.yaml are
 * served.
 */
final class AllowedHosts {
  private static final Pattern IPV4 = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");

  private final Set<String> names = new HashSet<>();

  AllowedHosts(List<String> extra) {
    names.add("localhost");
    for (String n : extra) {
      if (n != null && !n.isBlank()) {
        names.add(n.toLowerCase(Locale.ROOT));
      }
    }
  }

  boolean allows(String host) {
    String h = host.toLowerCase(Locale.ROOT);
    if (h.startsWith("[") || h.contains(":")) {
      return true; // an IPv6 literal
    }
    return IPV4.matcher(h).matches() || names.contains(h) || h.endsWith(".localhost");
  }
}
