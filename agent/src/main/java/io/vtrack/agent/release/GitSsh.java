package io.vtrack.agent.release;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.eclipse.jgit.transport.SshConfigStore;
import org.eclipse.jgit.transport.SshConstants;
import org.eclipse.jgit.transport.sshd.SshdSessionFactory;
import org.eclipse.jgit.transport.sshd.SshdSessionFactoryBuilder;

/**
 * SSH for app repositories with {@code spec.source.credentials.sshKeyFile}: that key only (the
 * user's ssh config, keys and agent are not consulted), and host keys checked as OpenSSH's {@code
 * StrictHostKeyChecking accept-new} does: a host seen for the first time is recorded in the agent's
 * own known_hosts (after the user's {@code ~/.ssh/known_hosts}, which is read too), and a host
 * whose key changed is refused.
 */
final class GitSsh {
  private GitSsh() {}

  /** A session factory for one key; the caller keeps and reuses it. */
  static SshdSessionFactory factory(Path keyFile, Path knownHosts) throws IOException {
    // jgit records a new host only in a known_hosts file that exists.
    if (!Files.exists(knownHosts)) {
      Files.createDirectories(knownHosts.getParent());
      Files.createFile(
          knownHosts,
          PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    }
    File home = new File(System.getProperty("user.home"));
    Path userKnownHosts = home.toPath().resolve(".ssh").resolve("known_hosts");
    HostConfig config =
        new HostConfig(
            Map.of(
                SshConstants.STRICT_HOST_KEY_CHECKING, "accept-new",
                SshConstants.IDENTITIES_ONLY, "yes",
                SshConstants.BATCH_MODE, "yes",
                SshConstants.PREFERRED_AUTHENTICATIONS, "publickey"),
            Map.of(
                SshConstants.IDENTITY_FILE,
                List.of(keyFile.toString()),
                SshConstants.USER_KNOWN_HOSTS_FILE,
                List.of(knownHosts.toString(), userKnownHosts.toString())));
    // The config below names the key and the known_hosts files for every host, so the builder's
    // defaults for them are never consulted.
    return new SshdSessionFactoryBuilder()
        .setHomeDirectory(home)
        .setSshDirectory(home.toPath().resolve(".ssh").toFile())
        .setConfigStoreFactory((h, f, user) -> config)
        .build(null);
  }

  /** The same settings for every host. */
  private record HostConfig(Map<String, String> single, Map<String, List<String>> multi)
      implements SshConfigStore, SshConfigStore.HostConfig {
    HostConfig {
      Map<String, String> s = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
      s.putAll(single);
      Map<String, List<String>> m = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
      m.putAll(multi);
      single = s;
      multi = m;
    }

    @Override
    public SshConfigStore.HostConfig lookup(String hostName, int port, String userName) {
      return this;
    }

    @Override
    public SshConfigStore.HostConfig lookupDefault(String hostName, int port, String userName) {
      return this;
    }

    @Override
    public String getValue(String key) {
      String v = single.get(key);
      if (v == null && multi.containsKey(key)) {
        return multi.get(key).get(0);
      }
      return v;
    }

    @Override
    public List<String> getValues(String key) {
      List<String> v = multi.get(key);
      if (v != null) {
        return v;
      }
      String s = single.get(key);
      return s == null ? List.of() : List.of(s);
    }

    @Override
    public Map<String, String> getOptions() {
      return single;
    }

    @Override
    public Map<String, List<String>> getMultiValuedOptions() {
      return multi;
    }
  }
}
