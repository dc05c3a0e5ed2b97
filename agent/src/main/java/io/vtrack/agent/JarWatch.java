package io.vtrack.agent;

import io.vertx.core.Vertx;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The jar this JVM runs from, watched for being written over in place: {@code cp new.jar} onto the
 * installed one writes into the same file, and a JVM still running from it has lost every class it
 * had not loaded yet (a check, a switch, a metrics scrape then fails with {@code
 * NoClassDefFoundError}, for as long as it runs). Such a process exits at once instead, saying so:
 * the agent's systemd unit starts it again from the new jar (a restart it survives by design), and
 * the agent starts its switch proxy again. A jar replaced by a rename ({@code dpkg}, {@code
 * install}, {@code mv}) leaves the running JVM its own file, and nothing happens.
 */
public final class JarWatch {
  private static final Logger LOG = LoggerFactory.getLogger(JarWatch.class);

  /** The exit code of a process whose jar was written over (EX_SOFTWARE). */
  public static final int EXIT_CODE = 70;

  private final Path jar;
  private final Object fileKey;
  private final long size;
  private final FileTime modified;

  private JarWatch(Path jar, BasicFileAttributes at) {
    this.jar = jar;
    this.fileKey = at.fileKey();
    this.size = at.size();
    this.modified = at.lastModifiedTime();
  }

  /** The one jar a class path names, made absolute; null when it names classes or several. */
  public static Path singleJar(String classPath) {
    if (classPath == null
        || classPath.contains(File.pathSeparator)
        || !classPath.endsWith(".jar")) {
      return null;
    }
    return Path.of(classPath).toAbsolutePath();
  }

  /** The jar this JVM runs from (its class path is one jar), or null (it runs from classes). */
  public static JarWatch ofThisJvm() {
    Path jar = singleJar(System.getProperty("java.class.path"));
    if (jar == null) {
      return null;
    }
    try {
      return new JarWatch(jar, Files.readAttributes(jar, BasicFileAttributes.class));
    } catch (IOException e) {
      return null;
    }
  }

  /** Whether the file this JVM opened was written over: the same file, another size or time. */
  public boolean writtenOver() {
    try {
      BasicFileAttributes now = Files.readAttributes(jar, BasicFileAttributes.class);
      return fileKey != null
          && Objects.equals(now.fileKey(), fileKey)
          && (now.size() != size || !now.lastModifiedTime().equals(modified));
    } catch (IOException gone) {
      return false; // removed, or being replaced: this JVM keeps its own file
    }
  }

  /**
   * Looks every second (a stat, off the event loop) and halts with {@link #EXIT_CODE} once the jar
   * was written over. Returns the timer's id.
   */
  public long watch(Vertx vertx, String what) {
    return vertx.setPeriodic(
        1000,
        id ->
            vertx.executeBlocking(
                () -> {
                  if (writtenOver()) {
                    LOG.error(
                        "{} was written over while this {} ran from it: exiting, to be started"
                            + " again from it as it is now",
                        jar,
                        what);
                    Runtime.getRuntime().halt(EXIT_CODE);
                  }
                  return null;
                },
                false));
  }
}
