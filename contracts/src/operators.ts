// Operators (ARCHITECTURE.md §1, issue 5): outside parties that handle the turns of `operator` agents (a
// person at a console, an external program). They register at run time under an id, over
// NATS (`sy.spawner.operators.*`) or over a WebSocket at the gateway, and answer turns on
// `sy.operator.<id>.turn`. The spawner keeps the registry (KV `sy_operators`, entries expire
// unless the operator re-registers within OPERATOR_TTL).
import { z } from "zod";
import { JsonObject, Slug, TaskId, Timestamp } from "./common.ts";
import { ChatMessage } from "./task.ts";

const V1 = z.literal(1);

/** How long a registration lives unless renewed; an operator re-registers every OPERATOR_TTL_MS / 3. */
export const OPERATOR_TTL_MS = 6000;

/** Register (or keep alive: re-send it every few seconds) an operator. */
export const OperatorRegister = z.object({
  v: V1,
  id: Slug,
  description: z.string().max(2000).default(""),
  via: z.enum(["nats", "websocket"]).default("nats"),
  /** Identifies one connection, so its unregister never removes a newer connection's registration. */
  session: z.string().max(128).optional(),
  /**
   * The tenant that owns this id (set by the gateway from the caller's key). While it is
   * registered, another tenant cannot take the id. Absent: a fleet operator registered over NATS.
   */
  tenant: Slug.optional(),
});
export type OperatorRegister = z.infer<typeof OperatorRegister>;

export const OperatorUnregister = z.object({ v: V1, id: Slug, session: z.string().max(128).optional() });
export type OperatorUnregister = z.infer<typeof OperatorUnregister>;

/** An operator as the registry holds it (KV `sy_operators`, key: id). */
export const OperatorRecord = z.object({
  v: V1,
  id: Slug,
  description: z.string(),
  via: z.enum(["nats", "websocket"]),
  session: z.string().optional(),
  tenant: Slug.optional(),
  registered_at: Timestamp,
  last_seen: Timestamp,
});
export type OperatorRecord = z.infer<typeof OperatorRecord>;
export const OperatorList = z.object({ items: z.array(OperatorRecord) });

/** One turn of an `operator` agent, sent by the runner to `sy.operator.<id>.turn` (request/reply). */
export const OperatorTurn = z.object({
  v: V1,
  /** Stable per task, attempt and round: a turn re-sent after a reconnect has the same id. */
  turn_id: z.string(),
  task_id: TaskId,
  attempt: z.number().int().min(1),
  round: z.number().int().min(1),
  agent: Slug,
  instructions: z.string(),
  /** The conversation so far, tool results included. */
  messages: z.array(ChatMessage),
  tools: z.array(z.string()),
});
export type OperatorTurn = z.infer<typeof OperatorTurn>;

/** The operator's answer: text (the round's message) and optional tool calls, or an error. */
export const OperatorReply = z.object({
  v: V1,
  turn_id: z.string(),
  text: z.string().max(1_000_000).default(""),
  tool_calls: z
    .array(z.object({ name: z.string().min(1).max(128), args: JsonObject.default({}) }))
    .max(64)
    .default([]),
  error: z.object({ message: z.string().max(10_000), retryable: z.boolean().default(false) }).optional(),
});
export type OperatorReply = z.infer<typeof OperatorReply>;
export type OperatorReplyInput = z.input<typeof OperatorReply>;
