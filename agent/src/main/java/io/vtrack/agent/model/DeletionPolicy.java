package io.vtrack.agent.model;

/** What happens to a deployment whose document disappears from its source. */
public enum DeletionPolicy {
  /** Stop the services, keep data and backups. */
  Stop,
  /** Leave it running and forget it. */
  Retain
}
