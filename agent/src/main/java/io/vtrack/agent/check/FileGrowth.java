package io.vtrack.agent.check;

import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells when a file is written, from the kernel's file events (inotify on Linux), so that a log
 * check can be run again the moment its log grows instead of at the next round. One watcher thread
 * per agent, started with the first watch; a directory is watched while a file in it is.
 *
 * <p>Listeners run on the watcher thread and must hand their work elsewhere at once. A file behind
 * a symbolic link (a shared path) is watched where it really is.
 */
public final class FileGrowth implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(FileGrowth.class);

  private WatchService service;
  private final Map<Path, WatchKey> keys = new HashMap<>();
  private final Map<WatchKey, Map<Path, List<Runnable>>> listeners = new HashMap<>();
  private boolean closed;

  /**
   * Calls {@code onWrite} each time {@code file} is written or created until the returned handle is
   * closed. A file whose folder does not exist cannot be watched: the handle then does nothing and
   * the caller's rounds still read the file.
   */
  public synchronized AutoCloseable watch(Path file, Runnable onWrite) {
    Path parent = file.toAbsolutePath().getParent();
    if (parent == null) {
      return () -> {};
    }
    Path target;
    try {
      target =
          Files.exists(file) ? file.toRealPath() : parent.toRealPath().resolve(file.getFileName());
    } catch (IOException e) {
      return () -> {};
    }
    Path dir = target.getParent();
    Path name = target.getFileName();
    WatchKey key;
    try {
      key = keyFor(dir);
    } catch (IOException e) {
      LOG.warn("cannot watch {}: {}", dir, e.toString());
      return () -> {};
    }
    if (key == null) {
      return () -> {};
    }
    listeners
        .computeIfAbsent(key, k -> new HashMap<>())
        .computeIfAbsent(name, n -> new ArrayList<>())
        .add(onWrite);
    return () -> unwatch(dir, key, name, onWrite);
  }

  private WatchKey keyFor(Path dir) throws IOException {
    if (closed) {
      return null;
    }
    WatchKey key = keys.get(dir);
    if (key != null) {
      return key;
    }
    if (service == null) {
      service = FileSystems.getDefault().newWatchService();
      Thread t = new Thread(this::deliver, "vtrack-file-growth");
      t.setDaemon(true);
      t.start();
    }
    key =
        dir.register(
            service, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY);
    keys.put(dir, key);
    return key;
  }

  private synchronized void unwatch(Path dir, WatchKey key, Path name, Runnable onWrite) {
    Map<Path, List<Runnable>> byName = listeners.get(key);
    if (byName == null) {
      return;
    }
    List<Runnable> l = byName.get(name);
    if (l != null) {
      l.remove(onWrite);
      if (l.isEmpty()) {
        byName.remove(name);
      }
    }
    if (byName.isEmpty()) {
      listeners.remove(key);
      keys.remove(dir);
      key.cancel();
    }
  }

  private void deliver() {
    WatchService ws;
    synchronized (this) {
      ws = service;
    }
    while (true) {
      WatchKey key;
      try {
        key = ws.take();
      } catch (InterruptedException | ClosedWatchServiceException e) {
        return;
      }
      List<Runnable> toCall = new ArrayList<>();
      synchronized (this) {
        Map<Path, List<Runnable>> byName = listeners.getOrDefault(key, Map.of());
        for (WatchEvent<?> event : key.pollEvents()) {
          if (event.kind() == StandardWatchEventKinds.OVERFLOW) {
            byName.values().forEach(toCall::addAll); // events were lost: any file may have grown
          } else {
            toCall.addAll(byName.getOrDefault((Path) event.context(), List.of()));
          }
        }
        key.reset();
      }
      for (Runnable r : toCall.stream().distinct().toList()) {
        try {
          r.run();
        } catch (RuntimeException e) {
          LOG.warn("a file listener failed", e);
        }
      }
    }
  }

  @Override
  public synchronized void close() throws IOException {
    closed = true;
    keys.clear();
    listeners.clear();
    if (service != null) {
      service.close();
    }
  }
}
