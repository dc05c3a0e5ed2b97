package io.vtrack.agent.model;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class DocumentParserTest {
  private static DocumentParser.Parsed parse(String yaml) {
    List<DocumentParser.Parsed> all =
        DocumentParser.parseAll(yaml, "test.yaml", SpecValidator.Context.FILE);
    assertThat(all).hasSize(1);
    return all.get(0);
  }

  private static int lineOf(String yaml, String needle) {
    String[] lines = yaml.split("\n");
    for (int i = 0; i < lines.length; i++) {
      if (lines[i].contains(needle)) {
        return i + 1;
      }
    }
    throw new AssertionError("no line with " + needle);
  }

  @Test
  void theDesignDocumentIsValidAndComplete() {
    DocumentParser.Parsed p = parse(Documents.VALID);
    assertThat(p.errors()).isEmpty();
    VTrackDeployment d = p.document();
    assertThat(d.name()).isEqualTo("vtrack");
    DeploymentSpec s = d.spec();
    assertThat(s.source().revision()).isEqualTo("v2.4.1");
    assertThat(s.runtime().services())
        .extracting(RuntimeSpec.ServiceSpec::name)
        .containsExactly("backend", "frontend");
    assertThat(s.runtime().services().get(0).stop().timeout().millis()).isEqualTo(10_000);
    assertThat(s.health().checks())
        .extracting(CheckSpec::kind)
        .containsExactly(
            "http", "http", "sqlite", "sqlite", "sqlite", "log", "latency", "memory", "command");
    assertThat(s.health().checks().get(0).http().json()).containsEntry("data[0].id", 1);
    assertThat(s.health().checks().get(6).latency().maxIncrease().fraction()).isEqualTo(0.10);
    assertThat(s.health().checks().get(7).memory().max().bytes()).isEqualTo(512L << 20);
    assertThat(s.health().checks().get(5).log().pattern()).isEqualTo("(?i)\\berror\\b");
    assertThat(s.promotion().requireHealthyIn()).isEqualTo("vtrack-dev");
    assertThat(s.notifications()).hasSize(1);
    assertThat(s.deletionPolicy()).isEqualTo(DeletionPolicy.Stop);
  }

  @Test
  void defaultsFillWhatIsLeftOut() {
    String yaml =
        """
        apiVersion: vtrack.io/v1alpha1
        kind: VTrackDeployment
        metadata: {name: mini}
        spec:
          source: {repoURL: /srv/app, revision: main}
          runtime:
            services:
              - {name: web, command: [python3, -m, http.server]}
        """;
    DocumentParser.Parsed p = parse(yaml);
    assertThat(p.errors()).isEmpty();
    DeploymentSpec s = p.document().spec();
    assertThat(s.runtime().type()).isEqualTo(RuntimeSpec.RuntimeType.process);
    assertThat(s.health().startupTimeout().millis()).isEqualTo(60_000);
    assertThat(s.health().interval().millis()).isEqualTo(2_000);
    assertThat(s.health().window().millis()).isEqualTo(30_000);
    assertThat(s.health().failureThreshold()).isEqualTo(3);
    assertThat(s.backup().keep()).isEqualTo(3);
    assertThat(s.releases().keep()).isEqualTo(5);
    assertThat(s.rollback().automatic()).isTrue();
    assertThat(s.rollback().restoreData()).isEqualTo(RestoreData.WhenDamaged);
    assertThat(s.runtime().services().get(0).stop().signal()).isEqualTo("TERM");
  }

  @Test
  void severalDocumentsInOneFileKeepTheirLines() {
    String second =
        Documents.VALID
            .replace("name: vtrack\n", "name: vtrack-dev\n")
            .replace("requireHealthyIn: vtrack-dev", "requireHealthyIn: vtrack")
            .replace("timeout: 60s", "timeout: sixty");
    String yaml = Documents.VALID + "---\n" + second;
    List<DocumentParser.Parsed> all =
        DocumentParser.parseAll(yaml, "multi.yaml", SpecValidator.Context.FILE);
    assertThat(all).hasSize(2);
    assertThat(all.get(0).valid()).isTrue();
    assertThat(all.get(1).valid()).isFalse();
    assertThat(all.get(1).name()).isEqualTo("vtrack-dev");
    int offset = Documents.VALID.split("\n").length + 1;
    assertThat(all.get(1).errors().get(0).line())
        .isEqualTo(offset + lineOf(second, "timeout: sixty"));
  }

  static final String BLUE_GREEN =
      Documents.VALID
          .replace(
              "env: {BACKEND_PORT: \"8080\"}",
              "env: {BACKEND_PORT: \"${port:backend}\"}\n        expose: {listen: \"127.0.0.1:18080\"}")
          .replace("http://127.0.0.1:8080", "http://127.0.0.1:${port:backend}")
          .replace(
              "  suspend: false", "  suspend: false\n  strategy:\n    blueGreen: {keepWarm: 5m}");

  @Test
  void aBlueGreenDocumentIsValid() {
    DocumentParser.Parsed p = parse(BLUE_GREEN);
    assertThat(p.errors()).isEmpty();
    DeploymentSpec s = p.document().spec();
    assertThat(s.blueGreen().keepWarm().millis()).isEqualTo(300_000);
    assertThat(s.blueGreen().drainTimeout().millis()).isEqualTo(30_000);
    assertThat(s.blueGreen().preview()).isEqualTo(StrategySpec.Preview.live);
    assertThat(s.runtime().services().get(0).expose().listen()).isEqualTo("127.0.0.1:18080");
    // Another port that only starts with the public one, or the public port on another host.
    assertThat(
            parse(
                    BLUE_GREEN.replace(
                        "[python3, tests/smoke.py]", "[curl, 127.0.0.1:180801, other-host:18080]"))
                .errors())
        .isEmpty();
  }

  static Stream<Arguments> rejectedBlueGreen() {
    return Stream.of(
        Arguments.of(
            "expose without blue-green",
            BLUE_GREEN.replace("  strategy:\n    blueGreen: {keepWarm: 5m}\n", ""),
            "spec.runtime.services[0].expose",
            "is only for spec.strategy.blueGreen"),
        Arguments.of(
            "an exposed service that does not listen on its port",
            BLUE_GREEN.replace("BACKEND_PORT: \"${port:backend}\"", "BACKEND_PORT: \"8080\""),
            "spec.runtime.services[0]",
            "must listen on its own port"),
        Arguments.of(
            "a port of a service that does not exist",
            BLUE_GREEN.replace("BACKEND_PORT: \"${port:backend}\"", "BACKEND_PORT: \"${port:db}\""),
            "spec.runtime.services[0]",
            "names no service"),
        Arguments.of(
            "a check asking the port of a service that does not exist (a typo)",
            BLUE_GREEN.replaceFirst(
                "http://127.0.0.1:\\$\\{port:backend}/api/health",
                "http://127.0.0.1:\\${port:backnd}/api/health"),
            "spec.health.checks[1].http.url",
            "${port:backnd} names no service of spec.runtime.services [backend, frontend]"),
        Arguments.of(
            "a check asking a port without blue-green",
            BLUE_GREEN
                .replace("  strategy:\n    blueGreen: {keepWarm: 5m}\n", "")
                .replace("BACKEND_PORT: \"${port:backend}\"", "BACKEND_PORT: \"8080\"")
                .replace("\n        expose: {listen: \"127.0.0.1:18080\"}", ""),
            "spec.health.checks[0].http.url",
            "${port:backend} needs spec.strategy.blueGreen"),
        Arguments.of(
            "a listen address that is not host:port",
            BLUE_GREEN.replace("listen: \"127.0.0.1:18080\"", "listen: \"18080\""),
            "spec.runtime.services[0].expose.listen",
            "expected host:port"),
        Arguments.of(
            "a snapshot preview with no data to copy",
            BLUE_GREEN
                .replace(
                    "blueGreen: {keepWarm: 5m}", "blueGreen: {keepWarm: 5m, preview: snapshot}")
                .replace("    sharedPaths:\n      - backend/database/\n      - .env\n", "")
                .replace("    sqlite: [backend/database/events.db]\n", "")
                .replace("    files: [.env]\n", ""),
            "spec.strategy.blueGreen.preview",
            "there are none"),
        Arguments.of(
            "an http check that asks the public address, kept from a recreate document",
            BLUE_GREEN.replaceFirst(
                "http://127.0.0.1:\\$\\{port:backend}/api/health",
                "http://localhost:18080/api/health"),
            "spec.health.checks[1].http.url",
            "asks 127.0.0.1:18080, the public address the switch proxy owns"
                + " (spec.runtime.services[0].expose.listen)"),
        Arguments.of(
            "a latency check that asks the public address",
            BLUE_GREEN.replaceFirst(
                "latency: \\{url: \"http://127.0.0.1:\\$\\{port:backend}",
                "latency: {url: \"http://127.0.0.1:18080"),
            "spec.health.checks[6].latency.url",
            "not the one under verification"),
        Arguments.of(
            "a smoke test given the public address",
            BLUE_GREEN.replace(
                "[python3, tests/smoke.py]",
                "[python3, tests/smoke.py, \"http://127.0.0.1:18080\"]"),
            "spec.health.checks[8].command.command[2]",
            "the public address the switch proxy owns"),
        Arguments.of(
            "restoreData neither true, false nor Always",
            BLUE_GREEN.replace("restoreData: true", "restoreData: sometimes"),
            "spec.rollback.restoreData",
            "must be true, false or Always"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("rejectedBlueGreen")
  void rejectsBadBlueGreen(String what, String yaml, String field, String message) {
    DocumentParser.Parsed p = parse(yaml);
    assertThat(p.errors())
        .as(what)
        .anySatisfy(
            e -> {
              assertThat(e.field()).startsWith(field);
              assertThat(e.message()).contains(message);
            });
  }

  static String composeExample() throws java.io.IOException {
    return java.nio.file.Files.readString(
        java.nio.file.Path.of("..", "examples", "compose", "vtrack.yaml"));
  }

  @Test
  void theComposeExampleIsBlueGreenWithItsExposedServicesNamed() throws Exception {
    DocumentParser.Parsed p = parse(composeExample());
    assertThat(p.errors()).isEmpty();
    DeploymentSpec s = p.document().spec();
    assertThat(s.blueGreen()).isNotNull();
    assertThat(s.runtime().services())
        .extracting(x -> x.name() + " " + x.expose().listen())
        .containsExactly("backend 127.0.0.1:18080", "frontend 127.0.0.1:13000");
  }

  @Test
  void composeServiceEntriesOnlyNameWhatBlueGreenExposes() throws Exception {
    String example = composeExample();
    DocumentParser.Parsed withCommand =
        parse(
            example.replace(
                "{name: backend, expose:", "{name: backend, command: [python3, app.py], expose:"));
    assertThat(withCommand.errors())
        .anySatisfy(
            e -> {
              assertThat(e.field()).isEqualTo("spec.runtime.services[0]");
              assertThat(e.message()).contains("belong in the compose files");
            });
    String recreate =
        example.replaceAll("(?s)  strategy:\n    blueGreen:\n.*?drainTimeout: 30s\n", "");
    assertThat(recreate).doesNotContain("blueGreen");
    assertThat(parse(recreate).errors())
        .anySatisfy(e -> assertThat(e.message()).contains("needs spec.strategy.blueGreen"));
    DocumentParser.Parsed nothingExposed =
        parse(
            example.replace(
                "      - {name: backend, expose: {listen: \"127.0.0.1:18080\"}}\n"
                    + "      - {name: frontend, expose: {listen: \"127.0.0.1:13000\"}}\n",
                ""));
    assertThat(nothingExposed.errors())
        .anySatisfy(
            e -> {
              assertThat(e.field()).isEqualTo("spec.strategy.blueGreen");
              assertThat(e.message()).contains("no service has expose.listen");
            });
  }

  static Stream<Arguments> rejected() {
    String v = Documents.VALID;
    return Stream.of(
        Arguments.of(
            "unknown field",
            v.replace("  suspend: false", "  suspend: false\n  bogus: 1"),
            "spec.bogus",
            "bogus: 1",
            "unknown field 'bogus'"),
        Arguments.of(
            "wrong type",
            v.replace("failureThreshold: 3", "failureThreshold: [3]"),
            "spec.health.failureThreshold",
            "failureThreshold: [3]",
            ""),
        Arguments.of(
            "a JSON index no list can have",
            v.replace("json: {\"data[0].id\": 1}", "json: {\"data[99999999999].id\": 1}"),
            "spec.health.checks[0].http.json",
            null,
            "invalid path 'data[99999999999].id'"),
        Arguments.of(
            "a file substitution out of the release",
            v.replace("${file:VERSION}", "${file:../../../etc/passwd}"),
            "spec.health.checks[1].http.json",
            null,
            "'../../../etc/passwd' escapes the release root"),
        Arguments.of(
            "latency samples by the million",
            v.replace("samples: 10,", "samples: 100000000,"),
            "spec.health.checks[6].latency.samples",
            "samples: 100000000",
            "must be at most 1000"),
        Arguments.of(
            "a memory limit no host has",
            v.replace("max: 512Mi", "max: 99999999999999999999Ti"),
            "spec.health.checks[7].memory.max",
            "max: 99999999999999999999Ti",
            "larger than 1Pi"),
        Arguments.of(
            "bad duration",
            v.replace("interval: 2s", "interval: 2 seconds"),
            "spec.health.interval",
            "interval: 2 seconds",
            "invalid duration"),
        Arguments.of(
            "bad size",
            v.replace("max: 512Mi", "max: 512MB"),
            "spec.health.checks[7].memory.max",
            "max: 512MB",
            "invalid size"),
        Arguments.of(
            "bad percentage",
            v.replace("maxIncrease: 20%", "maxIncrease: 20"),
            "spec.health.checks[7].memory.maxIncrease",
            "maxIncrease: 20,",
            "invalid percentage"),
        Arguments.of(
            "duplicate service",
            v.replace("- name: frontend", "- name: backend"),
            "spec.runtime.services[1].name",
            null,
            "duplicate service name"),
        Arguments.of(
            "duplicate check",
            v.replace("- name: db-json", "- name: db-integrity"),
            "spec.health.checks[4].name",
            null,
            "duplicate check name"),
        Arguments.of(
            "check without kind",
            v.replace(
                "      - name: smoke\n        command: {command: [python3, tests/smoke.py], cwd: .}",
                "      - name: smoke\n        timeout: 5s"),
            "spec.health.checks[8]",
            "- name: smoke",
            "has no kind"),
        Arguments.of(
            "check with two kinds",
            v.replace(
                "        command: {command: [python3, tests/smoke.py], cwd: .}",
                "        command: {command: [python3, tests/smoke.py], cwd: .}\n        http: {url: \"http://127.0.0.1:1/\"}"),
            "spec.health.checks[8]",
            "- name: smoke",
            "exactly one is allowed"),
        Arguments.of(
            "invalid regex",
            v.replace("pattern: \"(?i)\\\\berror\\\\b\"", "pattern: \"(unclosed\""),
            "spec.health.checks[5].log.pattern",
            "pattern: \"(unclosed\"",
            "invalid regex"),
        Arguments.of(
            "empty command",
            v.replace("command: [npm, start]", "command: []"),
            "spec.runtime.services[1].command",
            "command: []",
            "non-empty argv"),
        Arguments.of(
            "path escaping the release",
            v.replace("cwd: backend", "cwd: ../../etc"),
            "spec.runtime.services[0].cwd",
            "cwd: ../../etc",
            "escapes the release root"),
        Arguments.of(
            "absolute path",
            v.replace("path: .", "path: /etc"),
            "spec.source.path",
            "path: /etc",
            "must be relative"),
        Arguments.of(
            "backup outside sharedPaths",
            v.replace("files: [.env]", "files: [config.json]"),
            "spec.backup.files[0]",
            "files: [config.json]",
            "must lie inside spec.runtime.sharedPaths"),
        Arguments.of(
            "bad name",
            v.replace("name: vtrack\n", "name: V_Track\n"),
            "metadata.name",
            "name: V_Track",
            "DNS-1123"),
        Arguments.of(
            "missing revision",
            v.replace("    revision: v2.4.1\n", ""),
            "spec.source.revision",
            "source:",
            "is required"),
        Arguments.of(
            "missing repoURL outside git",
            v.replace("    repoURL: file:///srv/git/V_Track.git\n", ""),
            "spec.source.repoURL",
            "source:",
            "is required"),
        Arguments.of(
            "relative repoURL",
            v.replace("repoURL: file:///srv/git/V_Track.git", "repoURL: not a url"),
            "spec.source.repoURL",
            "repoURL: not a url",
            "'not a url' is neither a URL (https://, ssh://, file://, user@host:path) nor an"
                + " absolute path"),
        Arguments.of(
            "repoURL of another scheme",
            v.replace("repoURL: file:///srv/git/V_Track.git", "repoURL: ftp://host/app.git"),
            "spec.source.repoURL",
            "repoURL: ftp://host/app.git",
            "unsupported scheme in 'ftp://host/app.git'"),
        Arguments.of(
            "unknown signal",
            v.replace("signal: TERM", "signal: BOGUS"),
            "spec.runtime.services[0].stop.signal",
            "signal: BOGUS",
            "unknown signal"),
        Arguments.of(
            "bad api version",
            v.replace("vtrack.io/v1alpha1", "vtrack.io/v9"),
            "apiVersion",
            "apiVersion",
            "must be vtrack.io/v1alpha1"),
        Arguments.of(
            "bad http url",
            v.replace("url: \"http://127.0.0.1:8080/api/health\"", "url: \"ftp://x\""),
            "spec.health.checks[1].http.url",
            "ftp://x",
            "is not an http(s) URL"),
        Arguments.of(
            "log with file and service",
            v.replace(
                "log: {file: backend/logs/app.log,",
                "log: {file: backend/logs/app.log, service: backend,"),
            "spec.health.checks[5].log",
            "service: backend,",
            "exactly one of file or service"),
        Arguments.of(
            "memory of an unknown service",
            v.replace("memory: {service: backend", "memory: {service: worker"),
            "spec.health.checks[7].memory.service",
            "service: worker",
            "no service named 'worker'"),
        Arguments.of(
            "compose section on a process runtime",
            v.replace(
                "    type: process",
                "    type: process\n    compose: {files: [docker-compose.yml]}"),
            "spec.runtime.compose",
            "compose: {files",
            "only for type: compose"),
        Arguments.of(
            "unknown runtime type",
            v.replace("type: process", "type: systemd"),
            "spec.runtime.type",
            "type: systemd",
            ""),
        Arguments.of(
            "shared path covering the release",
            v.replace("      - .env\n", "      - ./\n"),
            "spec.runtime.sharedPaths[1]",
            "- ./",
            "is the release root itself"),
        Arguments.of(
            "shared path '.'",
            v.replace("      - .env\n", "      - .\n"),
            "spec.runtime.sharedPaths[1]",
            "- .",
            "is the release root itself"),
        Arguments.of(
            "shared path inside another",
            v.replace("      - .env\n", "      - backend/database/sub/\n"),
            "spec.runtime.sharedPaths[1]",
            "- backend/database/sub/",
            "must not overlap"),
        Arguments.of(
            "shared path with a NUL byte",
            v.replace("      - .env\n", "      - \"a\\0b\"\n"),
            "spec.runtime.sharedPaths[1]",
            "a\\0b",
            "NUL byte"),
        Arguments.of(
            "a key given twice",
            v.replace("  name: vtrack\n", "  name: vtrack\n  name: other\n"),
            "metadata",
            "name: other",
            "key \"name\" is given twice"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("rejected")
  void rejectsWithFieldAndLine(
      String what, String yaml, String field, String lineNeedle, String message) {
    DocumentParser.Parsed p = parse(yaml);
    assertThat(p.valid()).as(what).isFalse();
    assertThat(p.errors())
        .as(what)
        .anySatisfy(
            e -> {
              assertThat(e.field()).isEqualTo(field);
              assertThat(e.message()).contains(message);
              if (lineNeedle != null) {
                assertThat(e.line()).isEqualTo(lineOf(yaml, lineNeedle));
              } else {
                assertThat(e.line()).isNotNull();
              }
            });
  }

  @Test
  void repoUrlMayBeOmittedInGitDocuments() {
    String yaml = Documents.VALID.replace("    repoURL: file:///srv/git/V_Track.git\n", "");
    assertThat(DocumentParser.parseAll(yaml, "x.yaml", SpecValidator.Context.GIT).get(0).errors())
        .isEmpty();
  }

  @Test
  void syntaxErrorsNameTheLine() {
    String yaml = Documents.VALID.replace("    window: 30s", "    window: [30s");
    DocumentParser.Parsed p = parse(yaml);
    assertThat(p.valid()).isFalse();
    assertThat(p.name()).isEqualTo("vtrack");
    assertThat(p.errors().get(0).line()).isNotNull();
  }

  /**
   * A half-written file: the error says what SnakeYAML was reading and that the text ends there.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("cutShort")
  void aDocumentCutShortSaysSo(String cutIn, String reading) {
    String v = Documents.VALID;
    DocumentParser.Parsed p = parse(v.substring(0, v.indexOf(cutIn) + cutIn.length()));
    assertThat(p.valid()).isFalse();
    assertThat(p.errors().get(0).line()).isNotNull();
    assertThat(p.errors().get(0).message())
        .startsWith("not valid YAML: " + reading)
        .endsWith("(the document ends in the middle of it: cut short, or not saved whole?)");
  }

  static Stream<Arguments> cutShort() {
    return Stream.of(
        Arguments.of(
            "url: \"http", "while scanning a quoted scalar, found unexpected end of stream"),
        Arguments.of(
            "command: [py",
            "while parsing a flow sequence, expected ',' or ']', but got <stream end>"));
  }

  /** A file that is not a document at all (here a passwd file) is quoted back briefly. */
  @Test
  void aValueQuotedBackIsShort() {
    String passwd =
        "root:x:0:0:root:/root:/bin/bash\n"
            + "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n".repeat(40);
    DocumentParser.Parsed p = parse(passwd);
    assertThat(p.errors().get(0).message())
        .startsWith("expected a map of fields, got 'root:x:0:0:root:/root:/bin/bash daemon")
        .hasSizeLessThan(140)
        .endsWith("…'");
  }

  /** A generated document with thousands of checks is refused in one line, not one per check. */
  @Test
  void thousandsOfChecksAreRefusedAsOne() {
    StringBuilder checks = new StringBuilder("    checks:\n");
    for (int i = 0; i < 5000; i++) {
      checks.append("      - {name: c" + i + ", http: {url: \"http://127.0.0.1:8080/\"}}\n");
    }
    assertThat(Documents.VALID).containsOnlyOnce("\n    checks:\n");
    DocumentParser.Parsed p = parse(Documents.VALID.replace("\n    checks:\n", "\n" + checks));
    assertThat(p.valid()).isFalse();
    assertThat(p.errors())
        .singleElement()
        .satisfies(
            e -> {
              assertThat(e.field()).isEqualTo("spec.health.checks");
              assertThat(e.message()).isEqualTo("at most 100 checks, got 5009");
            });
  }

  @Test
  void aSyntaxErrorSaysWhatWasFound() {
    String yaml = Documents.VALID.replace("    window: 30s", "    window: [30s\n    oops: {");
    DocumentParser.Parsed p = parse(yaml);
    assertThat(p.errors().get(0).message())
        .startsWith("not valid YAML: while parsing a flow sequence")
        .doesNotContain("in reader");
  }
}
