// Task events (ARCHITECTURE.md §6, contract). Stored in SY_EVENTS without `seq`: the stream sequence
// is the seq, added by whoever reads the message (the gateway adds it to SSE data).
import { z } from "zod";
import { JsonObject, TaskId, Timestamp } from "./common.ts";
import { WireError } from "./errors.ts";
import { TaskResult, TaskStatus, Usage } from "./task.ts";

export const EventType = z.enum([
  "status",
  "step.start",
  "step.finish",
  "text.delta",
  "reasoning.delta",
  "tool.call",
  "tool.result",
  "message",
  "usage",
  "approval.requested",
  "approval.decided",
  "error",
]);
export type EventType = z.infer<typeof EventType>;

export const StatusData = z.object({
  status: TaskStatus,
  attempt: z.number().int().optional(),
  result: TaskResult.optional(),
  error: WireError.optional(),
  reason: z.string().optional(),
  /** `input_required`: the calls the task waits for. */
  waiting: z.array(z.object({ call_id: z.string(), tool: z.string(), kind: z.enum(["approval", "external"]) })).optional(),
});
export const StepData = z.object({ round: z.number().int() });
export const TextDeltaData = z.object({ round: z.number().int(), delta: z.string() });
/** Reasoning text, where a provider streams it (not part of the round's message). */
export const ReasoningDeltaData = TextDeltaData;
export const ToolCallData = z.object({
  round: z.number().int(),
  call_id: z.string(),
  tool: z.string(),
  args: JsonObject,
  /** The client executes it: the task parks until POST /v1/tasks/:id/tool-results. */
  external: z.boolean().optional(),
});
export const ToolResultData = z.object({
  round: z.number().int(),
  call_id: z.string(),
  tool: z.string(),
  result: z.unknown().optional(),
  error: WireError.optional(),
});
export const MessageData = z.object({ round: z.number().int(), role: z.literal("assistant"), content: z.string() });
export const UsageData = Usage;
/** A tool call waits for a person: answer with POST /v1/tasks/:id/approvals. */
export const ApprovalRequestedData = z.object({
  round: z.number().int(),
  call_id: z.string(),
  tool: z.string(),
  args: JsonObject,
  reason: z.string(),
  /** When it times out (the policy's timeout_ms), or null. */
  expires_at: z.string().nullable(),
});
export const ApprovalDecidedData = z.object({
  round: z.number().int(),
  call_id: z.string(),
  tool: z.string(),
  decision: z.enum(["approve", "reject"]),
  reason: z.string().optional(),
  by: z.enum(["client", "timeout"]),
});
export const ErrorData = WireError;

/** The data schema of each event type. */
export const EventDataByType = {
  status: StatusData,
  "step.start": StepData,
  "step.finish": StepData,
  "text.delta": TextDeltaData,
  "reasoning.delta": ReasoningDeltaData,
  "tool.call": ToolCallData,
  "tool.result": ToolResultData,
  message: MessageData,
  usage: UsageData,
  "approval.requested": ApprovalRequestedData,
  "approval.decided": ApprovalDecidedData,
  error: ErrorData,
} as const satisfies Record<EventType, z.ZodType>;

/** An event as stored on `sy.events.<tenant>.<agent>.<task_id>` (no seq). */
export const StoredEvent = z.object({
  task_id: TaskId,
  run_id: z.string().nullable(),
  attempt: z.number().int().min(1),
  ts: Timestamp,
  type: EventType,
  data: z.unknown(),
});
export type StoredEvent = z.infer<typeof StoredEvent>;

/** An event as a client sees it: the stored event plus its stream sequence. */
export const TaskEvent = StoredEvent.extend({ seq: z.number().int().min(1) });
export type TaskEvent = z.infer<typeof TaskEvent>;

/** NATS headers on every event message, so readers can route without parsing JSON. */
export const EventHeaders = {
  type: "Sy-Type",
  runId: "Sy-Run-Id",
  /** The attempt the event belongs to, so readers can drop events of a fenced run. */
  attempt: "Sy-Attempt",
  /** Present on `status` events: the status, so the gateway can end a stream cheaply. */
  status: "Sy-Status",
} as const;

/** Critical events are kept in the Redis replay ring for late subscribers (ARCHITECTURE.md §4). */
export const CRITICAL_EVENT_TYPES: ReadonlySet<EventType> = new Set(["status", "approval.requested", "approval.decided", "error"]);
export const CRITICAL_RING_SIZE = 32;
