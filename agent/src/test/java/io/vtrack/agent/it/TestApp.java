package io.vtrack.agent.it;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.function.UnaryOperator;
import org.eclipse.jgit.api.Git;
import org.eclipse.jgit.lib.PersonIdent;
import org.eclipse.jgit.revwalk.RevCommit;

/**
 * The example app (examples/vtrack-app) in a real git repository made with jgit, plus a
 * desired-state repository holding its VTrackDeployment. Every failure case is a real commit.
 */
public final class TestApp implements AutoCloseable {
  public static final Path EXAMPLE =
      Path.of("..", "examples", "vtrack-app").toAbsolutePath().normalize();
  private static final PersonIdent AUTHOR = new PersonIdent("Test Author", "author@example.com");

  public final Path appDir;
  public final Path deployDir;
  public final Git app;
  public final Git deploy;
  public final int backendPort;
  public final int frontendPort;
  public String name = "vtrack";

  /** Extra YAML appended under {@code spec.health.checks}. */
  public String extraChecks = "";

  public String extraSpec = "";

  /** Extra lines of spec.backup (e.g. {@code " files: [backend/database/uploads/]"}). */
  public String backupFiles = "";

  public String validate =
      """
        validate:
          - name: backend-syntax
            command: [python3, -m, py_compile, backend/app.py]
            timeout: 30s
      """;

  /** The body of {@code spec.runtime}, with the backend and frontend ports as %1$d and %2$d. */
  public String runtime = RECREATE_RUNTIME;

  private static final String RECREATE_RUNTIME =
      """
          type: process
          sharedPaths: [backend/database/, backend/logs/]
          services:
            - name: backend
              cwd: backend
              command: [python3, app.py]
              env: {BACKEND_PORT: "%1$d"}
              stop: {signal: TERM, timeout: 5s}
            - name: frontend
              cwd: frontend
              command: [npm, start]
              env: {FRONTEND_PORT: "%2$d", BACKEND_PORT: "%1$d"}
              stop: {signal: TERM, timeout: 5s}
      """;

  public String timings = "startupTimeout: 15s\n    interval: 200ms\n    window: 1500ms";

  /**
   * Blue-green: the services listen on their own ports, the switch proxy owns the backend and
   * frontend ports, and the checks ask the instance under verification.
   */
  public void blueGreen(String keepWarm) {
    runtime =
        """
            type: process
            sharedPaths: [backend/database/, backend/logs/]
            services:
              - name: backend
                cwd: backend
                command: [python3, app.py]
                env: {BACKEND_PORT: "${port:backend}"}
                expose: {listen: "127.0.0.1:%1$d"}
                stop: {signal: TERM, timeout: 5s}
              - name: frontend
                cwd: frontend
                command: [npm, start]
                env: {FRONTEND_PORT: "${port:frontend}", BACKEND_PORT: "${port:backend}"}
                expose: {listen: "127.0.0.1:%2$d"}
                stop: {signal: TERM, timeout: 5s}
        """;
    extraSpec =
        extraSpec + "  strategy:\n    blueGreen: {keepWarm: " + keepWarm + ", drainTimeout: 5s}\n";
    instanceChecks = true;
  }

  /**
   * Back to recreate after {@link #blueGreen}: the services bind the public ports themselves and
   * the checks ask them there.
   */
  public void recreate() {
    runtime = RECREATE_RUNTIME;
    extraSpec = extraSpec.replaceAll("  strategy:\n    blueGreen: \\{[^}]*\\}\n", "");
    instanceChecks = false;
  }

  /** Checks address the instance under verification (${port:NAME}), not the public address. */
  public boolean instanceChecks;

  public TestApp(Path root) throws Exception {
    appDir = root.resolve("app");
    deployDir = root.resolve("deploy");
    copyTree(EXAMPLE, appDir);
    app = Git.init().setDirectory(appDir.toFile()).setInitialBranch("main").call();
    deploy = Git.init().setDirectory(deployDir.toFile()).setInitialBranch("main").call();
    backendPort = freePort();
    frontendPort = freePort();
    commitApp("V_Track 1.0.0", "v1");
  }

  /**
   * A port free now and never handed out before in this JVM: the kernel may give one port twice to
   * consecutive binds of port 0, and two services of one test on one port fail in ways that look
   * like anything but that.
   */
  public static synchronized int freePort() throws IOException {
    // As the agent chooses instance ports: below the ephemeral range, where no outgoing
    // connection takes the port before the app binds it.
    try (ServerSocket s =
        io.vtrack.agent.runtime.LoopbackPorts.bindFree(p -> !HANDED_OUT.contains(p))) {
      HANDED_OUT.add(s.getLocalPort());
      return s.getLocalPort();
    }
  }

  private static final java.util.Set<Integer> HANDED_OUT = new java.util.HashSet<>();

  /**
   * Makes the app a compose project named {@code project} (recreate) on this app's ports, committed
   * and tagged {@code c1}; returns the commit.
   */
  public String asCompose(String project) throws Exception {
    runtime =
        """
            type: compose
            sharedPaths: [backend/database/, backend/logs/]
            compose: {files: [docker-compose.yml], project: %s}
        """
            .formatted(project);
    Files.writeString(
        appDir.resolve(".env"),
        "VTRACK_PORT_BACKEND=" + backendPort + "\nVTRACK_PORT_FRONTEND=" + frontendPort + "\n");
    return commitApp("Ports for this host", "c1");
  }

  /** Commits the app's working tree (after {@code edit}) and tags it; returns the commit SHA. */
  public String commitApp(String message, String tag) throws Exception {
    app.add().addFilepattern(".").call();
    app.add().setUpdate(true).addFilepattern(".").call();
    RevCommit c = app.commit().setMessage(message).setAuthor(AUTHOR).setCommitter(AUTHOR).call();
    if (tag != null) {
      app.tag().setName(tag).setObjectId(c).call();
    }
    return c.getName();
  }

  /** Rewrites one file of the app (relative path) with {@code change}. */
  public void edit(String file, UnaryOperator<String> change) throws IOException {
    Path p = appDir.resolve(file);
    Files.writeString(p, change.apply(Files.readString(p)));
  }

  /** A commit of the app that only bumps VERSION: a good upgrade. */
  public String goodUpgrade(String version, String tag) throws Exception {
    Files.writeString(appDir.resolve("VERSION"), version + "\n");
    return commitApp("V_Track " + version, tag);
  }

  /** A commit whose backend exits at startup with "boom: missing setting". */
  public String crashAtStartup(String tag) throws Exception {
    return changeBackend(
        "def main():\n",
        "def main():\n    raise SystemExit('boom: missing setting')\n",
        "Crash at startup",
        tag);
  }

  /**
   * Makes the backend start a worker in a session of its own, as a daemonizing app does: out of the
   * service's process group. Its command line holds {@code marker}. Not committed.
   */
  public void detachesAWorker(String marker) throws IOException {
    edit(
        "backend/app.py",
        s ->
            s.replace(
                "def main():\n",
                "def main():\n    import subprocess\n    subprocess.Popen([sys.executable, '-c',"
                    + " 'import time  # "
                    + marker
                    + "\\nwhile True: time.sleep(1)'], start_new_session=True)\n"));
  }

  /** A commit that renames {@code data} to {@code items} in the sources API: a contract break. */
  public String breakContract(String tag) throws Exception {
    return changeBackend(
        "{\"success\": True, \"data\": data}",
        "{\"success\": True, \"items\": data}",
        "Rename data to items",
        tag);
  }

  /** A commit whose migration deletes user rows while every endpoint still answers 200. */
  public String deleteRowsInMigration(String tag) throws Exception {
    return changeBackend(
        "    conn.close()\n\n\ndef record_events",
        "    with conn:\n        conn.execute(\"DELETE FROM video_sources WHERE id > 1\")\n"
            + "    conn.close()\n\n\ndef record_events",
        "Cleanup migration",
        tag);
  }

  /** A commit whose get-sources answers 150 ms slower: a performance regression. */
  public String slowerEndpoint(String tag) throws Exception {
    return changeBackend(
        "        elif path == \"/api/config/get-sources\":\n",
        "        elif path == \"/api/config/get-sources\":\n            time.sleep(0.15)\n",
        "Slower sources",
        tag);
  }

  /** A commit whose sources endpoint never answers (a deadlock) while the others do. */
  public String hangingEndpoint(String tag) throws Exception {
    return changeBackend(
        "        elif path == \"/api/config/get-sources\":\n",
        "        elif path == \"/api/config/get-sources\":\n            threading.Event().wait()\n",
        "Sources wait on a lock nobody releases",
        tag);
  }

  /** A commit whose backend holds 300 MB more than before: a memory regression. */
  public String memoryHog(String tag) throws Exception {
    return changeBackend(
        "def main():\n",
        "CACHE = []\n\n\ndef main():\n    CACHE.append(b'x' * (300 * 1024 * 1024))\n",
        "Cache everything",
        tag);
  }

  /**
   * A commit whose backend serves correctly, then exits with code 3 {@code seconds} after start.
   */
  public String crashesAfter(int seconds, String tag) throws Exception {
    return changeBackend(
        "    writer.start()\n",
        "    writer.start()\n    threading.Timer(" + seconds + ", lambda: os._exit(3)).start()\n",
        "Crash later",
        tag);
  }

  /** A commit whose backend serves correctly and logs an error {@code seconds} after start. */
  public String logsErrorAfter(int seconds, String tag) throws Exception {
    return changeBackend(
        "    writer.start()\n",
        "    writer.start()\n    threading.Timer("
            + seconds
            + ", lambda: log.error('db write failed')).start()\n",
        "Log an error later",
        tag);
  }

  /** A good commit that needs {@code seconds} before it binds its port. */
  public String slowToBind(int seconds, String tag) throws Exception {
    return changeBackend(
        "    migrate()\n    stop = threading.Event()\n",
        "    time.sleep(" + seconds + ")\n    migrate()\n    stop = threading.Event()\n",
        "Slow start",
        tag);
  }

  /** A good commit that answers 503 to everything for its first {@code seconds}. */
  public String warmsUpWith503(int seconds, String tag) throws Exception {
    return changeBackend(
        "    def route(self, conn):\n",
        "    def route(self, conn):\n"
            + "        if time.time() - STARTED < "
            + seconds
            + ":\n"
            + "            self.send_json(503, {\"success\": False, \"error\": \"warming up\"})\n"
            + "            return\n",
        "Warm-up",
        tag,
        "class Handler(BaseHTTPRequestHandler):\n",
        "STARTED = time.time()\n\n\nclass Handler(BaseHTTPRequestHandler):\n");
  }

  /**
   * A good commit whose first get-sources answer (to a request without a {@code probe=} query)
   * misses {@code data}; every later one is right.
   */
  public String wrongOnceThenRight(String tag) throws Exception {
    return changeBackend(
        "            self.send_json(200, {\"success\": True, \"data\": data})\n",
        "            if not ANSWERED and \"probe=\" not in self.path:\n"
            + "                ANSWERED.append(1)\n"
            + "                self.send_json(200, {\"success\": True})\n"
            + "                return\n"
            + "            self.send_json(200, {\"success\": True, \"data\": data})\n",
        "Flaky first answer",
        tag,
        "class Handler(BaseHTTPRequestHandler):\n",
        "ANSWERED = []\n\n\nclass Handler(BaseHTTPRequestHandler):\n");
  }

  /** Replaces {@code from} (which must be there) by {@code to} in the backend and commits it. */
  private String changeBackend(String from, String to, String message, String tag, String... more)
      throws Exception {
    edit(
        "backend/app.py",
        s -> {
          String out = s;
          for (int i = -2; i < more.length; i += 2) {
            String a = i < 0 ? from : more[i];
            String b = i < 0 ? to : more[i + 1];
            if (!out.contains(a)) {
              throw new IllegalStateException("backend/app.py no longer contains: " + a);
            }
            out = out.replace(a, b);
          }
          return out;
        });
    return commitApp(message, tag);
  }

  public String document(String revision) {
    String doc = document(name, revision, backendPort, frontendPort, extraSpec);
    if (instanceChecks) {
      doc =
          doc.replace("http://127.0.0.1:" + backendPort, "http://127.0.0.1:${port:backend}")
              .replace("http://127.0.0.1:" + frontendPort, "http://127.0.0.1:${port:frontend}");
    }
    return doc;
  }

  /** A document for another deployment of the same app (e.g. a dev copy on other ports). */
  public String document(
      String name, String revision, int backendPort, int frontendPort, String extraSpec) {
    return """
        apiVersion: vtrack.io/v1alpha1
        kind: VTrackDeployment
        metadata:
          name: %1$s
        spec:
          source:
            repoURL: %2$s
            revision: %3$s
          runtime:
        %10$s
        %6$s
          backup:
            sqlite: [backend/database/events.db]
        %11$s
            keep: 3
          health:
            %7$s
            failureThreshold: 2
            checks:
              - name: sources
                http:
                  url: http://127.0.0.1:%4$d/api/config/get-sources
                  contentType: application/json
                  jsonKeys: [success, data]
              - name: cameras
                http: {url: "http://127.0.0.1:%4$d/api/config/get-processing-cameras", jsonKeys: [selected_cameras, count]}
              - name: running-version
                http: {url: "http://127.0.0.1:%4$d/api/health", json: {version: "${file:VERSION}"}}
              - name: frontend
                http: {url: "http://127.0.0.1:%5$d/"}
              - name: sources-kept
                sqlite: {database: backend/database/events.db, query: "SELECT COUNT(*) FROM video_sources", noDecrease: true}
        %8$s
        %9$s
        """
        .formatted(
            name,
            appDir.toUri().toString(),
            revision,
            backendPort,
            frontendPort,
            validate,
            timings,
            extraChecks,
            extraSpec,
            runtime.formatted(backendPort, frontendPort),
            backupFiles);
  }

  /** Commits another document, {@code file}, into the desired-state repository. */
  public void commitDocument(String file, String text) throws Exception {
    Files.writeString(deployDir.resolve(file), text);
    deploy.add().addFilepattern(".").call();
    deploy.commit().setMessage("Add " + file).setAuthor(AUTHOR).setCommitter(AUTHOR).call();
  }

  /** Commits the desired-state document pointing at {@code revision}. */
  public String deploy(String revision) throws Exception {
    Files.writeString(deployDir.resolve(name + ".yaml"), document(revision));
    deploy.add().addFilepattern(".").call();
    return deploy
        .commit()
        .setMessage("Deploy " + revision)
        .setAuthor(AUTHOR)
        .setCommitter(AUTHOR)
        .call()
        .getName();
  }

  public void removeDocument() throws Exception {
    deploy.rm().addFilepattern(name + ".yaml").call();
    deploy.commit().setMessage("Remove " + name).setAuthor(AUTHOR).setCommitter(AUTHOR).call();
  }

  public String deployUrl() {
    return deployDir.toUri().toString();
  }

  @Override
  public void close() {
    app.close();
    deploy.close();
  }

  static void copyTree(Path from, Path to) throws IOException {
    Files.walkFileTree(
        from,
        new SimpleFileVisitor<>() {
          @Override
          public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs)
              throws IOException {
            String n = dir.getFileName().toString();
            if (!dir.equals(from)
                && (n.equals("database") || n.equals("logs") || n.equals("__pycache__"))) {
              return FileVisitResult.SKIP_SUBTREE;
            }
            Files.createDirectories(to.resolve(from.relativize(dir).toString()));
            return FileVisitResult.CONTINUE;
          }

          @Override
          public FileVisitResult visitFile(Path file, BasicFileAttributes attrs)
              throws IOException {
            Files.copy(
                file,
                to.resolve(from.relativize(file).toString()),
                StandardCopyOption.COPY_ATTRIBUTES);
            return FileVisitResult.CONTINUE;
          }
        });
  }
}
