package io.vtrack.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;

/**
 * The status page in a real headless Chromium (Debian's package, driven by its chromedriver): it
 * lists a deployment, shows a rollout's steps appearing live, and shows a rolled-back rollout with
 * its failing check. A screenshot is kept in target/.
 */
class StatusPageIT {
  static final Path CHROMIUM = Path.of("/usr/bin/chromium");
  static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");

  @TempDir Path tmp;
  TestApp app;
  InProcessAgent agent;
  WebDriver browser;

  @BeforeEach
  void setUp() throws Exception {
    boolean present = Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER);
    if ("true".equals(System.getenv("CI"))) {
      assertThat(present)
          .as("CI needs chromium and chromedriver (scripts/test-setup.sh installs them)")
          .isTrue();
    }
    Assumptions.assumeTrue(present, "chromium and chromedriver are not installed");
    app = new TestApp(tmp.resolve("repos"));
    app.timings = "startupTimeout: 4s\n    interval: 300ms\n    window: 1500ms";
    // A slow validate step, so that the page has time to show it running.
    app.validate =
        """
          validate:
            - {name: slow-syntax, command: [sh, -c, "sleep 2 && python3 -m py_compile backend/app.py"], timeout: 30s}
        """;
    ChromeOptions opts = new ChromeOptions();
    opts.setBinary(CHROMIUM.toFile());
    opts.addArguments(
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,1600",
        "--user-data-dir=" + tmp.resolve("chromium-profile"));
    ChromeDriverService service =
        new ChromeDriverService.Builder()
            .usingDriverExecutable(new File(CHROMEDRIVER.toString()))
            .usingAnyFreePort()
            .build();
    browser = new ChromeDriver(service, opts);
  }

  @AfterEach
  void tearDown() throws Exception {
    if (browser != null) {
      browser.quit();
    }
    if (agent != null) {
      agent.close();
    }
    if (app != null) {
      app.close();
    }
  }

  /** The text of the first match; the page re-renders on every event, so a stale read retries. */
  private String text(String css) {
    for (int attempt = 0; ; attempt++) {
      try {
        List<WebElement> els = browser.findElements(By.cssSelector(css));
        return els.isEmpty() ? "" : els.get(0).getText();
      } catch (org.openqa.selenium.StaleElementReferenceException e) {
        if (attempt >= 50) {
          throw e;
        }
      }
    }
  }

  @Test
  void showsDeploymentsLiveRolloutsAndRollbacks() throws Exception {
    app.deploy("v1");
    agent = new InProcessAgent(tmp, app, "300ms");
    await()
        .atMost(Duration.ofSeconds(90))
        .until(() -> "Healthy".equals(agent.api.status("vtrack").get("phase")));
    browser.get("http://127.0.0.1:" + agent.agent.port() + "/");
    await()
        .atMost(Duration.ofSeconds(30))
        .ignoreExceptions()
        .until(() -> text("section[data-deployment=vtrack] .phase").equals("Healthy"));
    assertThat(text("section[data-deployment=vtrack] table.checks"))
        .contains("sources")
        .contains("Passing");
    assertThat(text("section[data-deployment=vtrack] table.commits")).contains("V_Track 1.0.0");
    await()
        .atMost(Duration.ofSeconds(10))
        .ignoreExceptions()
        .until(
            () ->
                text("#live").equals("live")
                    && browser.findElement(By.id("live")).getAttribute("class").contains("on"));

    // A steady deployment sends a status event every check round (200 ms here), each saying what
    // the page shows already: the page reads the API again for those at most every 2 s (it read
    // the list and every history after each: at 200 deployments, hundreds of requests a second).
    JavascriptExecutor js = (JavascriptExecutor) browser;
    js.executeScript(
        "window.__fetches = 0; const f = window.fetch;"
            + " window.fetch = (...a) => { window.__fetches++; return f(...a); };"
            + " window.__status = 0; new EventSource('/api/v1/events')"
            + ".addEventListener('status', () => window.__status++);");
    long t0 = System.nanoTime();
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(100))
        .until(() -> ((Number) js.executeScript("return window.__status")).longValue() >= 20);
    long fetches = ((Number) js.executeScript("return window.__fetches")).longValue();
    long refreshes = (System.nanoTime() - t0) / 2_000_000_000L + 2;
    // A refresh is two requests here: the list and the one deployment's history.
    assertThat(fetches).as("API requests over 20 status events").isLessThanOrEqualTo(2 * refreshes);

    // A rollout whose contract check fails: its steps appear while it runs, without a reload.
    app.edit(
        "backend/app.py",
        s ->
            s.replace(
                "{\"success\": True, \"data\": data}", "{\"success\": True, \"items\": data}"));
    app.commitApp("Rename data to items", "v2");
    app.deploy("v2");
    Set<String> seenLive = ConcurrentHashMap.newKeySet();
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(100))
        .ignoreExceptions()
        .until(
            () -> {
              for (WebElement row :
                  browser.findElements(By.cssSelector(".rollout.active tr.step"))) {
                seenLive.add(row.getAttribute("data-step"));
              }
              return seenLive.contains("validate:slow-syntax") && seenLive.contains("start");
            });
    await()
        .atMost(Duration.ofSeconds(90))
        .ignoreExceptions()
        .until(() -> text("section[data-deployment=vtrack] .phase").equals("RolledBack"));
    await()
        .atMost(Duration.ofSeconds(10))
        .ignoreExceptions()
        .until(
            () ->
                !browser
                    .findElements(By.cssSelector(".rollout.result-RolledBack .failing-check"))
                    .isEmpty());
    // The page re-renders on every event: read it whole, retrying on a stale element.
    await()
        .atMost(Duration.ofSeconds(10))
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              assertThat(text(".rollout.result-RolledBack"))
                  .contains("ChecksFailed")
                  .contains("failing check: sources — missing JSON keys [data]")
                  .contains("rollback-start");
              assertThat(text("section[data-deployment=vtrack] table.commits").toLowerCase())
                  .contains("quarantined");
            });

    Path shot = Path.of("target", "status-page.png");
    Files.createDirectories(shot.getParent());
    Files.copy(
        ((TakesScreenshot) browser).getScreenshotAs(OutputType.FILE).toPath(),
        shot,
        StandardCopyOption.REPLACE_EXISTING);
    assertThat(Files.size(shot)).isPositive();
  }
}
