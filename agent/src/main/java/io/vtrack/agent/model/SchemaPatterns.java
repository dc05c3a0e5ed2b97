package io.vtrack.agent.model;

/** Patterns the generated CRD enforces on the API server (the agent validates the same). */
public final class SchemaPatterns {
  public static final String DURATION = "^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$";
  public static final String PERCENT = "^[0-9]+(\\.[0-9]+)?%$";
  public static final String DNS_LABEL = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

  private SchemaPatterns() {}
}
