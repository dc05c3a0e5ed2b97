package io.vtrack.agent.check;

/**
 * A check that measures something to compare across revisions (latency, memory). When a revision is
 * verified healthy, its measurement becomes the baseline the next revision is judged against.
 */
public interface Baselined {
  /** The measurement to keep as this revision's baseline, or null when none was taken. */
  Double baselineValue();
}
