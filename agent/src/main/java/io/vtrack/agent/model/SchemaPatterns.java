package io.vtrack.agent.model;

/** Patterns the generated CRD enforces on the API server (the agent validates the same). */
public final class SchemaPatterns {
  public static final String DURATION = "^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$";
  public static final String PERCENT = "^[0-9]+(\\.[0-9]+)?%$";
  public static final String DNS_LABEL = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

  /** A Kubernetes label value: at most 63 characters, alphanumeric at both ends. */
  public static final String LABEL_VALUE = "(?=.{1,63}$)[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?";

  private SchemaPatterns() {}
}
