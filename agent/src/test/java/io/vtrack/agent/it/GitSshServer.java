package io.vtrack.agent.it;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.List;
import org.apache.sshd.server.Environment;
import org.apache.sshd.server.ExitCallback;
import org.apache.sshd.server.SshServer;
import org.apache.sshd.server.channel.ChannelSession;
import org.apache.sshd.server.command.Command;
import org.apache.sshd.server.command.CommandFactory;
import org.apache.sshd.server.config.keys.AuthorizedKeysAuthenticator;
import org.apache.sshd.server.keyprovider.SimpleGeneratorHostKeyProvider;
import org.eclipse.jgit.api.Git;
import org.eclipse.jgit.transport.UploadPack;

/**
 * A real SSH server (Apache MINA sshd) on 127.0.0.1 that serves git repositories to {@code
 * git-upload-pack} with jgit, accepting only the public keys of an authorized_keys file.
 */
final class GitSshServer implements AutoCloseable {
  private final SshServer sshd;

  GitSshServer(int port, Path hostKey, Path authorizedKeys) throws IOException {
    sshd = SshServer.setUpDefaultServer();
    sshd.setHost("127.0.0.1");
    sshd.setPort(port);
    sshd.setKeyPairProvider(new SimpleGeneratorHostKeyProvider(hostKey));
    sshd.setPublickeyAuthenticator(new AuthorizedKeysAuthenticator(authorizedKeys));
    sshd.setCommandFactory(GitSshServer::command);
    sshd.start();
  }

  int port() {
    return sshd.getPort();
  }

  private static Command command(ChannelSession channel, String line) throws IOException {
    List<String> argv = CommandFactory.split(line);
    if (argv.size() != 2 || !argv.get(0).equals("git-upload-pack")) {
      throw new IOException("unsupported command: " + line);
    }
    return new UploadCommand(Path.of(argv.get(1).replace("'", "")));
  }

  @Override
  public void close() throws IOException {
    sshd.stop(true);
  }

  /** One {@code git-upload-pack}, on its own thread as sshd expects. */
  private static final class UploadCommand implements Command {
    private final Path repo;
    private InputStream in;
    private OutputStream out;
    private OutputStream err;
    private ExitCallback exit;

    UploadCommand(Path repo) {
      this.repo = repo;
    }

    @Override
    public void setInputStream(InputStream in) {
      this.in = in;
    }

    @Override
    public void setOutputStream(OutputStream out) {
      this.out = out;
    }

    @Override
    public void setErrorStream(OutputStream err) {
      this.err = err;
    }

    @Override
    public void setExitCallback(ExitCallback exit) {
      this.exit = exit;
    }

    @Override
    public void start(ChannelSession channel, Environment env) {
      Thread t =
          new Thread(
              () -> {
                int code = 0;
                try (Git git = Git.open(repo.toFile())) {
                  new UploadPack(git.getRepository()).upload(in, out, err);
                  out.flush();
                } catch (IOException e) {
                  code = 1;
                }
                exit.onExit(code);
              },
              "git-upload-pack");
      t.setDaemon(true);
      t.start();
    }

    @Override
    public void destroy(ChannelSession channel) {}
  }
}
