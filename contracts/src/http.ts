// HTTP API v1 bodies and responses (DESIGN §7, contract).
import { z } from "zod";
import { AgentDef, Executor } from "./agent.ts";
import { JsonObject, Slug } from "./common.ts";
import { TaskInput, TaskStatus, TaskView } from "./task.ts";

export const SubmitTaskBody = z
  .object({
    agent: Slug,
    input: TaskInput,
    executor: Executor.optional(),
    metadata: JsonObject.optional(),
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
});
export type RunnerNode = z.infer<typeof RunnerNode>;
export const RunnerList = z.object({ items: z.array(RunnerNode) });

export const Health = z.object({ status: z.enum(["ok", "unavailable"]), checks: z.record(z.string(), z.string()).optional() });
