package io.vtrack.agent.api;

/** An error answer: {@code {"error": "<Reason>", "message": "…"}} with an HTTP status. */
public final class ApiError extends RuntimeException {
  private final int status;
  private final String error;

  public ApiError(int status, String error, String message) {
    super(message);
    this.status = status;
    this.error = error;
  }

  public int status() {
    return status;
  }

  public String error() {
    return error;
  }
}
