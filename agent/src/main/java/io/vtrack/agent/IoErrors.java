package io.vtrack.agent;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;

/**
 * Why a file operation failed, in words a user reads next to the path they gave: Java's file
 * exceptions carry only the path in their message ("/proc/x"), the reason in their type.
 */
public final class IoErrors {
  private IoErrors() {}

  /** "no such file or directory: /etc/vtrack/agent.yaml", "permission denied: /var/lib/vtrack". */
  public static String describe(IOException e) {
    String reason;
    if (e instanceof NoSuchFileException) {
      reason = "no such file or directory";
    } else if (e instanceof AccessDeniedException) {
      reason = "permission denied";
    } else if (e instanceof NotDirectoryException) {
      reason = "not a directory";
    } else if (e instanceof FileAlreadyExistsException) {
      reason = "already exists";
    } else if (e instanceof FileSystemException f && f.getReason() != null) {
      reason = f.getReason();
    } else {
      reason = null;
    }
    if (reason == null) {
      return String.valueOf(e.getMessage());
    }
    String file = e instanceof FileSystemException f ? f.getFile() : null;
    return file == null ? reason : reason + ": " + file;
  }

  /** The innermost cause of {@code e} ({@code e} itself when it has none). */
  public static Throwable root(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    return t;
  }

  /** The message of the innermost cause of {@code e} (its class's name when it has none). */
  public static String rootMessage(Throwable e) {
    Throwable t = root(e);
    return t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
  }
}
