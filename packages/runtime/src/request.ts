// Typed request/reply over core NATS: encode, send, validate the reply.
import type { NatsConnection } from "@nats-io/transport-node";
import { SwitchyardError } from "@switchyard/contracts";
import type { z } from "zod";
import { decodeJson, encodeJson } from "./codec.ts";
import { traceHeaders } from "./tracing.ts";

export async function requestJson<S extends z.ZodType>(
  nc: NatsConnection,
  subject: string,
  /** The request body: encoded as JSON, or sent as is when already encoded. */
  payload: unknown,
  replySchema: S,
  timeoutMs = 5000,
): Promise<z.infer<S>> {
  let msg: Awaited<ReturnType<NatsConnection["request"]>>;
  try {
    msg = await nc.request(subject, payload instanceof Uint8Array ? payload : encodeJson(payload), { timeout: timeoutMs, ...traceHeaders() });
  } catch (err) {
    throw new SwitchyardError("unavailable", `no answer on ${subject}: ${(err as Error).message}`, { cause: err });
  }
  const decoded = decodeJson(replySchema, msg.data);
  if (!decoded.ok) throw new SwitchyardError("internal", `bad reply on ${subject}: ${decoded.reason}`);
  return decoded.value;
}
