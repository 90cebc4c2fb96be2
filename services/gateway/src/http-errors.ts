// HTTP errors: one catalogue of codes (contracts ErrorCodes), one body shape
// `{ error: { code, message, details? } }`.
import { describeZodIssues, type ErrorCode, ErrorCodes, type HttpError, SwitchyardError } from "@switchyard/contracts";
import type { FastifyReply } from "fastify";
import type { z } from "zod";

export class HttpProblem extends Error {
  override readonly name = "HttpProblem";
  readonly code: string;
  readonly status: number;
  readonly details: unknown;
  constructor(code: ErrorCode, message: string, details?: unknown, status?: number) {
    super(message);
    this.code = code;
    this.status = status ?? ErrorCodes[code];
    this.details = details;
  }
}

export function problemBody(code: string, message: string, details?: unknown): HttpError {
  return { error: { code, message, ...(details === undefined ? {} : { details }) } };
}

export function sendProblem(reply: FastifyReply, err: HttpProblem): FastifyReply {
  // Every 429 says when to come back; a quota check that knows better has set it already.
  if (err.status === 429 && !reply.hasHeader("retry-after")) reply.header("retry-after", "60");
  return reply.code(err.status).send(problemBody(err.code, err.message, err.details));
}

/** Validates with zod; a failure is a 400 that names each wrong field. */
export function parseOr400<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = describeZodIssues(parsed.error).map((i) => (i.path === "(root)" ? { ...i, path: what } : i));
  const summary = issues
    .slice(0, 3)
    .map((i) => `${i.path}: ${i.message}`)
    .join("; ");
  throw new HttpProblem("bad_request", `invalid ${what}: ${summary}`, issues);
}

/** Maps an error from a service call (wire error codes) to an HTTP problem. */
export function fromServiceError(err: unknown): HttpProblem {
  if (err instanceof HttpProblem) return err;
  if (err instanceof SwitchyardError) {
    const code = (Object.hasOwn(ErrorCodes, err.code) ? err.code : "internal") as ErrorCode;
    return new HttpProblem(code, err.message, err.details);
  }
  return new HttpProblem("internal", "internal error");
}

/**
 * A message for NATS, encoded once and refused up front (413) when the bus could never carry
 * it (`max_payload`): the client's body was too large, the server is not broken. `what` names
 * the thing in the message.
 */
export function encodeForBus(maxPayload: number | undefined, body: unknown, what: string): Uint8Array {
  // Buffer.from: the same UTF-8 bytes as a TextEncoder (JSON.stringify leaves no lone
  // surrogate), in about half the time, with no encoder built per call.
  const payload = Buffer.from(JSON.stringify(body));
  if (maxPayload !== undefined && payload.byteLength > maxPayload) {
    throw new HttpProblem("payload_too_large", `${what} is ${payload.byteLength} bytes; the message bus accepts ${maxPayload}`);
  }
  return payload;
}
