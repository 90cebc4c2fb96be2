// Errors as they cross the wire: plain data. One catalogue of codes; one function decides
// retryability. Local errors are classes (see SwitchyardError).
import { z } from "zod";

/** Every error code the fleet puts on the wire, with the HTTP status it maps to. */
export const ErrorCodes = {
  bad_request: 400,
  invalid_agent: 400,
  unauthorized: 401,
  /** A valid key without the scope a route needs, or another tenant's operator id. */
  forbidden: 403,
  not_found: 404,
  agent_not_found: 404,
  task_not_found: 404,
  conflict: 409,
  task_terminal: 409,
  /** An answer for a call whose answer already stands (the first one wins). */
  already_decided: 409,
  /** An answer to a task that is not waiting for one. */
  task_not_waiting: 409,
  /** An answer for a call_id the task never waited for. */
  call_not_found: 404,
  /** A task chose an executor its agent does not allow (`executor_overrides`). */
  executor_not_allowed: 403,
  payload_too_large: 413,
  /** A tenant's rate (submits per second) or quota (unfinished tasks, open streams, agents) is used up; see Retry-After. */
  rate_limited: 429,
  unavailable: 503,
  internal: 500,
  // Task failure codes (appear in task.error and in `error` events).
  model_error: 502,
  tool_error: 502,
  runner_error: 500,
  /** A budget (max_rounds, max_tokens, deadline) ran out; `details.budget` says which. */
  budget_exceeded: 422,
  /** An approval was not given in time and the policy says `on_timeout: fail`. */
  approval_timeout: 408,
  /** A call needed an approval or an external result, but its runner kind cannot wait for answers. */
  parking_unsupported: 422,
  /** The task record would exceed NATS max_payload (input, checkpoint or result too large). */
  task_too_large: 413,
  canceled: 409,
  /** The runner refused the executor config (the kind's schema changed after submit). */
  invalid_config: 422,
  /** An `a2a` remote agent asked for input; remote input is not relayed back yet. */
  input_required_unsupported: 422,
  /** A remote agent (`a2a`) or an agent process (`process`) failed. */
  remote_error: 502,
  process_error: 502,
  /** A runner node refused to connect to a destination a client gave (EGRESS_ALLOW); not retried. */
  egress_denied: 403,
  /** An operator agent's operator is not connected (retryable: the kernel retries per policy). */
  operator_unavailable: 503,
} as const satisfies Record<string, number>;
export type ErrorCode = keyof typeof ErrorCodes;

export const WireError = z.object({
  code: z.string(),
  message: z.string(),
  retryable: z.boolean(),
  details: z.unknown().optional(),
});
export type WireError = z.infer<typeof WireError>;

/** The one place that decides whether a failure may be retried when nothing else says. */
export function isRetryableCode(code: string): boolean {
  return code === "unavailable" || code === "runner_error" || code === "operator_unavailable";
}

/** A local error with a code from the catalogue and an optional cause. */
export class SwitchyardError extends Error {
  override readonly name = "SwitchyardError";
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: unknown;
  constructor(code: ErrorCode, message: string, opts: { cause?: unknown; retryable?: boolean; details?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.code = code;
    this.retryable = opts.retryable ?? isRetryableCode(code);
    this.details = opts.details;
  }
  toWire(): WireError {
    return { code: this.code, message: this.message, retryable: this.retryable, ...(this.details === undefined ? {} : { details: this.details }) };
  }
}

/** The HTTP error body: `{ error: { code, message, details? } }`. */
export const HttpError = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});
export type HttpError = z.infer<typeof HttpError>;

/** Turns a zod error into `{path, message}` items, so a 400 names the field that is wrong. */
export function describeZodIssues(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.map((i) => ({ path: i.path.length ? i.path.map(String).join(".") : "(root)", message: i.message }));
}
