// Errors the client throws: the server's `{error: {code, message, details?}}` with its HTTP
// status, or a transport failure after the retries ran out.

export class SwitchyardApiError extends Error {
  override readonly name = "SwitchyardApiError";
  /** HTTP status (0 when the server could not be reached). */
  readonly status: number;
  /** The error code from the server's catalogue (`task_not_found`, `bad_request`…), or `network` / `timeout`. */
  readonly code: string;
  readonly details: unknown;
  constructor(status: number, code: string, message: string, details?: unknown, options?: { cause?: unknown }) {
    super(message, options);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** Builds the error from a non-2xx response body (JSON problem, or whatever text came back). */
export function errorFromBody(status: number, body: unknown): SwitchyardApiError {
  const e = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error;
  if (e && typeof e.code === "string" && typeof e.message === "string") return new SwitchyardApiError(status, e.code, e.message, e.details);
  const text = typeof body === "string" ? body.slice(0, 200) : "";
  return new SwitchyardApiError(status, status === 429 ? "rate_limited" : "http_error", `HTTP ${status}${text ? `: ${text}` : ""}`);
}
