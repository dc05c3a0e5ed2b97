package io.vtrack.agent;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.event.Level;
import org.slf4j.spi.LoggingEventBuilder;

/**
 * The agent's log format ({@code logFormat} in agent.yaml): logback's text lines
 * (src/main/resources/logback.xml), or logback's JSON encoder, one object per line, with the
 * deployment, rollout id and commit of a line as key-value fields ({@link #about}).
 */
public final class LogSetup {
  private LogSetup() {}

  /** Switches the root logger to {@code format}; text is logback.xml's and needs nothing. */
  public static void apply(String format) {
    if (!"json".equals(format)
        || !(LoggerFactory.getILoggerFactory() instanceof LoggerContext ctx)) {
      return;
    }
    ch.qos.logback.classic.Logger root = ctx.getLogger(Logger.ROOT_LOGGER_NAME);
    JsonEncoder encoder = new JsonEncoder();
    encoder.setContext(ctx);
    // The message as written, the fields of the line, its level, logger, thread and time.
    encoder.setWithFormattedMessage(true);
    encoder.setWithMessage(false);
    encoder.setWithArguments(false);
    encoder.setWithContext(false);
    encoder.setWithSequenceNumber(false);
    encoder.setWithNanoseconds(false);
    encoder.setWithMDC(false);
    encoder.start();
    ConsoleAppender<ILoggingEvent> out = new ConsoleAppender<>();
    out.setContext(ctx);
    out.setName("json");
    out.setTarget("System.err");
    out.setEncoder(encoder);
    out.start();
    root.detachAndStopAllAppenders();
    root.addAppender(out);
  }

  /**
   * A log line about a deployment (and a rollout of a commit, when not null): in JSON they are the
   * fields {@code deployment}, {@code rolloutId} and {@code commit}.
   */
  public static LoggingEventBuilder about(
      Logger log, Level level, String deployment, Long rolloutId, String commit) {
    LoggingEventBuilder b = log.atLevel(level).addKeyValue("deployment", deployment);
    if (rolloutId != null) {
      b = b.addKeyValue("rolloutId", rolloutId);
    }
    if (commit != null) {
      b = b.addKeyValue("commit", commit);
    }
    return b;
  }
}
