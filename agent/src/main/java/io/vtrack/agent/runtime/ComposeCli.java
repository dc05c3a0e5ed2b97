package io.vtrack.agent.runtime;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The compose command line: {@code docker compose} (v2) where it exists, else {@code
 * docker-compose} (v1). Every call names the project, its directory and its files explicitly, so
 * what it acts on never depends on the agent's working directory. Blocking: call it from a worker.
 */
public final class ComposeCli {
  private final List<String> command;
  private final int version;

  public ComposeCli(List<String> command, int version) {
    this.command = List.copyOf(command);
    this.version = version;
  }

  /** The v2 plugin when {@code docker compose version} answers, else v1; null when neither. */
  public static ComposeCli detect() {
    if (answers(List.of("docker", "compose", "version"))) {
      return v2();
    }
    if (answers(List.of("docker-compose", "version"))) {
      return v1();
    }
    return null;
  }

  public static ComposeCli v1() {
    return new ComposeCli(List.of("docker-compose"), 1);
  }

  public static ComposeCli v2() {
    return new ComposeCli(List.of("docker", "compose"), 2);
  }

  /** Whether this CLI runs here. */
  public boolean available() {
    List<String> probe = new ArrayList<>(command);
    probe.add("version");
    return answers(probe);
  }

  private static boolean answers(List<String> argv) {
    return CommandRunner.run(argv, Path.of("/"), Map.of(), Duration.ofSeconds(20)).ok();
  }

  public int version() {
    return version;
  }

  /** What the CLI is called, for messages: {@code docker compose} or {@code docker-compose}. */
  public String describe() {
    return String.join(" ", command);
  }

  /**
   * Runs {@code args} for a project: {@code -p project --project-directory dir -f file…}, with
   * {@code env} added to the environment (compose interpolates {@code ${VAR}} from it).
   */
  public CommandRunner.Result run(
      String project,
      Path projectDir,
      List<Path> files,
      List<String> args,
      Map<String, String> env,
      Duration timeout) {
    return run(project, projectDir, files, args, env, timeout, new CommandRunner.Stopper());
  }

  /** As {@link #run(String, Path, List, List, Map, Duration)}, stopped by {@code stopper}. */
  public CommandRunner.Result run(
      String project,
      Path projectDir,
      List<Path> files,
      List<String> args,
      Map<String, String> env,
      Duration timeout,
      CommandRunner.Stopper stopper) {
    List<String> argv = new ArrayList<>(command);
    argv.add("--ansi");
    argv.add("never");
    argv.add("-p");
    argv.add(project);
    argv.add("--project-directory");
    argv.add(projectDir.toString());
    for (Path f : files) {
      argv.add("-f");
      argv.add(f.toString());
    }
    argv.addAll(args);
    return CommandRunner.run(CommandPolicy.ANY, argv, projectDir, env, timeout, stopper);
  }

  /**
   * As {@link #run}; an exit other than 0 (or the timeout) is an {@link IOException} naming the
   * command and its output's end: "docker-compose up failed (exit code 1): …".
   */
  public CommandRunner.Result runOrFail(
      String project,
      Path projectDir,
      List<Path> files,
      List<String> args,
      Map<String, String> env,
      Duration timeout)
      throws IOException {
    return runOrFail(project, projectDir, files, args, env, timeout, new CommandRunner.Stopper());
  }

  /** As {@link #runOrFail(String, Path, List, List, Map, Duration)}, stopped by {@code stopper}. */
  public CommandRunner.Result runOrFail(
      String project,
      Path projectDir,
      List<Path> files,
      List<String> args,
      Map<String, String> env,
      Duration timeout,
      CommandRunner.Stopper stopper)
      throws IOException {
    CommandRunner.Result r = run(project, projectDir, files, args, env, timeout, stopper);
    if (!r.ok()) {
      throw new IOException(
          describe()
              + " "
              + args.get(0)
              + " failed ("
              + r.describe()
              + "): "
              + EngineContainers.tail(ANSI.matcher(r.output()).replaceAll("")));
    }
    return r;
  }

  /**
   * Terminal colour codes: {@code --ansi never} leaves those of a build's own output (the engine
   * colours what a RUN step wrote to stderr), which a status message must not carry.
   */
  private static final Pattern ANSI = Pattern.compile("\u001B\\[[0-9;]*[A-Za-z]");
}
