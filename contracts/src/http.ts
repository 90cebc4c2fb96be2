// HTTP API v1 bodies and responses (ARCHITECTURE.md §7, contract).
import { z } from "zod";
import { AgentDef, Executor, TaskLimits } from "./agent.ts";
import { JsonObject, Slug } from "./common.ts";
import { CallAnswer, TaskInput, TaskStatus, TaskView } from "./task.ts";

export const SubmitTaskBody = z
  .object({
    agent: Slug,
    input: TaskInput,
    executor: Executor.optional(),
    metadata: JsonObject.optional(),
    /** Lowers the agent's limits for this task; raising one is a 400 naming the field. */
    limits: TaskLimits.optional(),
  })
  .strict();
export type SubmitTaskBody = z.infer<typeof SubmitTaskBody>;

export const SubmitTaskResponse = z.object({
  id: z.string(),
  status: TaskStatus,
  agent: Slug,
  events_url: z.string(),
  /** True when the Idempotency-Key matched an earlier submit and this is that task. */
  duplicate: z.boolean(),
});
export type SubmitTaskResponse = z.infer<typeof SubmitTaskResponse>;

export const ListTasksQuery = z
  .object({
    status: TaskStatus.optional(),
    agent: Slug.optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    /** Opaque cursor from a previous page's `next_cursor`. */
    cursor: z.string().max(100).optional(),
  })
  .strict();
export type ListTasksQuery = z.infer<typeof ListTasksQuery>;

export const ListTasksResponse = z.object({ items: z.array(TaskView), next_cursor: z.string().nullable() });
export type ListTasksResponse = z.infer<typeof ListTasksResponse>;

export const EventsQuery = z.object({ after: z.coerce.number().int().min(0).optional() }).strict();

export const CancelResponse = z.object({ id: z.string(), status: TaskStatus, cancel_requested: z.boolean() });

/** `POST /v1/tasks/:id/approvals`. */
export const ApprovalBody = z
  .object({
    call_id: z.string().min(1).max(128),
    decision: z.enum(["approve", "reject"]),
    reason: z.string().max(4000).optional(),
  })
  .strict();
export type ApprovalBody = z.infer<typeof ApprovalBody>;

/** `POST /v1/tasks/:id/tool-results`: exactly one of `result` (any JSON) and `error`. */
export const ToolResultBody = z
  .object({
    call_id: z.string().min(1).max(128),
    result: z.unknown().optional(),
    error: z
      .union([z.string().min(1).max(10_000), z.object({ message: z.string().min(1).max(10_000), code: z.string().max(128).optional() }).strict()])
      .optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    const hasResult = Object.hasOwn(b, "result") && b.result !== undefined;
    if (hasResult === (b.error !== undefined)) ctx.addIssue({ code: "custom", path: ["result"], message: "give exactly one of result and error" });
  });
export type ToolResultBody = z.infer<typeof ToolResultBody>;

/** The answer to an accepted approval or tool result. */
export const AnswerResponse = z.object({
  id: z.string(),
  call_id: z.string(),
  /** `recorded`: the kernel applied it; `pending`: durable, but no kernel confirmed it in time. */
  outcome: z.enum(["recorded", "pending"]),
  /** The task's status now (`queued` when this answer resumed it). */
  status: TaskStatus,
  /** Calls of the round still waiting for an answer. */
  waiting: z.array(z.string()),
  answer: CallAnswer.optional(),
});
export type AnswerResponse = z.infer<typeof AnswerResponse>;

export const AgentList = z.object({ items: z.array(AgentDef) });

/** A runner node's liveness record (Redis `sy:node:<id>`) as `GET /v1/runners` lists it. */
export const RunnerNode = z.object({
  id: z.string(),
  kinds: z.array(Slug),
  slots: z.object({ total: z.number().int(), used: z.number().int(), free: z.number().int() }),
  version: z.string(),
  started_at: z.string(),
  last_heartbeat: z.string(),
  draining: z.boolean(),
  /** Model providers configured on the node (names only, e.g. `openai`, `ollama`). */
  providers: z.array(z.string()).optional(),
  /** MCP servers configured on the node (names only). */
  mcp_servers: z.array(z.string()).optional(),
});
export type RunnerNode = z.infer<typeof RunnerNode>;
export const RunnerList = z.object({ items: z.array(RunnerNode) });

export const Health = z.object({ status: z.enum(["ok", "unavailable"]), checks: z.record(z.string(), z.string()).optional() });
