package io.vtrack.agent.reconcile;

import io.github.resilience4j.core.IntervalFunction;
import io.vtrack.agent.IoErrors;
import io.vtrack.agent.backup.BackupManager;
import io.vtrack.agent.model.Reason;
import io.vtrack.agent.release.ConfinedPath;
import io.vtrack.agent.release.SharedPathMissingException;
import io.vtrack.agent.release.SourceUnavailableException;
import io.vtrack.agent.runtime.CommandPolicy;
import io.vtrack.agent.runtime.ComposeConfigException;
import io.vtrack.agent.runtime.NetworkUnavailableException;
import io.vtrack.agent.runtime.RegistryUnavailableException;
import io.vtrack.agent.runtime.Runtimes;
import java.io.IOException;
import java.sql.SQLException;
import java.time.Duration;

/**
 * The one place that maps what went wrong to what it means (after Flux's source-controller): which
 * {@link ReconcileError} an exception is, and how soon a deployment is looked at again.
 */
public final class ErrorMapping {
  /** Transient failures: capped exponential backoff with jitter, per deployment. */
  private static final IntervalFunction BACKOFF =
      IntervalFunction.ofExponentialRandomBackoff(
          Duration.ofSeconds(1), 2.0, 0.2, Duration.ofMinutes(2));

  private ErrorMapping() {}

  /** What an exception thrown by a step or a read means; never blames the commit for the host. */
  public static ReconcileError classify(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
      if (c instanceof ReconcileError.Failed f) {
        return f.error();
      }
      if (c instanceof SharedPathMissingException) {
        return new ReconcileError.Stalled(Reason.SharedPathMissing, c.getMessage());
      }
      if (c instanceof ConfinedPath.UnsafePathException
          || c instanceof io.vtrack.agent.release.SourcePathNotFoundException) {
        return new ReconcileError.Stalled(Reason.InvalidSpec, c.getMessage());
      }
      if (c instanceof CommandPolicy.NotAllowedException) {
        return new ReconcileError.Stalled(Reason.CommandNotAllowed, c.getMessage());
      }
      if (c instanceof ComposeConfigException) {
        return new ReconcileError.Stalled(Reason.InvalidSpec, c.getMessage());
      }
      if (c instanceof BackupManager.BackupFailedException b) {
        return new ReconcileError.Transient(
            b.insufficientDisk() ? Reason.InsufficientDisk : Reason.BackupFailed, c.getMessage());
      }
      if (c instanceof io.vtrack.agent.proxy.ProxySupervisor.ProxyUnavailableException) {
        return new ReconcileError.Transient(Reason.ProxyUnavailable, c.getMessage());
      }
      if (c instanceof Runtimes.RuntimeUnavailableException
          || c instanceof io.vtrack.agent.runtime.EngineUnreachableException) {
        return new ReconcileError.Transient(Reason.RuntimeUnavailable, c.getMessage());
      }
      if (c instanceof SourceUnavailableException
          || c instanceof RegistryUnavailableException
          || c instanceof NetworkUnavailableException) {
        return new ReconcileError.Transient(Reason.SourceUnavailable, c.getMessage());
      }
      if (c instanceof SQLException) {
        return new ReconcileError.Transient(
            full(c) ? Reason.InsufficientDisk : Reason.StoreUnavailable,
            "state store: " + c.getMessage());
      }
      if (c instanceof IOException && full(c)) {
        return new ReconcileError.Transient(Reason.InsufficientDisk, c.getMessage());
      }
    }
    String what = IoErrors.rootMessage(t);
    if (dockerClass(IoErrors.root(t))) {
      return new ReconcileError.Transient(Reason.RuntimeUnavailable, "Docker Engine: " + what);
    }
    // Anything else is the agent's own failure (I/O, a bug): never held against the commit.
    return new ReconcileError.Transient(Reason.AgentError, what);
  }

  private static boolean full(Throwable t) {
    String m = String.valueOf(t.getMessage());
    return m.contains("No space left") || m.contains("SQLITE_FULL") || m.contains("disk is full");
  }

  private static boolean dockerClass(Throwable t) {
    return t.getClass().getName().startsWith("com.github.dockerjava");
  }

  /** How long to wait before attempt {@code attempt} (1-based) after a transient failure. */
  public static long backoffMillis(int attempt) {
    return BACKOFF.apply(Math.max(1, attempt));
  }
}
