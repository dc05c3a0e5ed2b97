package io.vtrack.agent.runtime;

import java.io.IOException;

/**
 * Where a service's captured output is read from when a log check names a service rather than a
 * file, for runtimes that do not write it to {@code logs/<service>.log} (containers: the engine's
 * log API). Read incrementally: each read returns the whole lines after a mark and the next mark.
 */
public interface LogSource {
  /** The lines written after {@code mark}, and the mark to read from next time. */
  record Chunk(String text, long nextMark) {}

  /** The mark for "from now on". */
  long markNow() throws IOException;

  Chunk readAfter(long mark) throws IOException;

  /**
   * Tells {@code written} of each write from now on until closed, where the source can (blocks); a
   * source that cannot returns a watch that tells nothing, and is read at each round.
   */
  default AutoCloseable follow(Runnable written) throws IOException {
    return () -> {};
  }
}
