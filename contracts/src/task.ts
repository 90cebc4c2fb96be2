// Tasks: input, status and the lifecycle state machine (ARCHITECTURE.md §2, §5). The kernel is the
// only writer of task records; everyone else reads them.
import { z } from "zod";
import { Executor, RunPlan } from "./agent.ts";
import { JsonObject, Slug, TaskId, Timestamp } from "./common.ts";
import { WireError } from "./errors.ts";

/**
 * One message of a conversation, provider-neutral (checkpoints keep it, any provider continues
 * it). An assistant message may carry the tool calls it asked for; a tool message's content is
 * the JSON `{call_id, tool, result}` or `{call_id, tool, error}` of one call.
 */
export const ChatMessage = z
  .object({
    role: z.enum(["system", "user", "assistant", "tool"]),
    content: z.string().max(262_144),
    tool_calls: z
      .array(z.object({ call_id: z.string().min(1).max(128), tool: z.string().min(1).max(128), args: JsonObject }).strict())
      .max(256)
      .optional(),
  })
  .strict();
export type ChatMessage = z.infer<typeof ChatMessage>;

/** A task's input: a string, or a conversation of `{role, content}` messages. */
/** Inputs are capped well below NATS's default 1 MiB message size, since checkpoints carry them. */
export const MAX_INPUT_CHARS = 262_144;
export const TaskInput = z.union([z.string().max(MAX_INPUT_CHARS), z.array(ChatMessage).min(1).max(1000)], {
  error: "must be a string, or a non-empty array of {role, content} messages",
});
export type TaskInput = z.infer<typeof TaskInput>;

export const TaskStatus = z.enum(["queued", "running", "input_required", "completed", "failed", "canceled"]);
export type TaskStatus = z.infer<typeof TaskStatus>;

export const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set(["completed", "failed", "canceled"]);
export function isTerminal(status: TaskStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

/**
 * Legal transitions. `running → queued` is a re-dispatch (a new attempt after a retryable
 * failure or a lost runner); `queued → queued` is not a transition. Terminal statuses never
 * change again.
 */
const TRANSITIONS: Record<TaskStatus, readonly TaskStatus[]> = {
  queued: ["running", "failed", "canceled"],
  running: ["queued", "input_required", "completed", "failed", "canceled"],
  input_required: ["running", "queued", "failed", "canceled"],
  completed: [],
  failed: [],
  canceled: [],
};
export function canTransition(from: TaskStatus, to: TaskStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

export const Usage = z.object({
  input_tokens: z.number().int().min(0),
  output_tokens: z.number().int().min(0),
  total_tokens: z.number().int().min(0),
  /** Of the input tokens, those the provider read from its prompt cache (where it says). */
  cached_input_tokens: z.number().int().min(0).optional(),
  /** Of the output tokens, those spent on reasoning (where the provider says). */
  reasoning_tokens: z.number().int().min(0).optional(),
});
export type Usage = z.infer<typeof Usage>;
export const ZERO_USAGE: Usage = { input_tokens: 0, output_tokens: 0, total_tokens: 0 };

/** What a runner reports after each completed round, so a new attempt resumes there. */
export const Checkpoint = z.object({
  round: z.number().int().min(0),
  messages: z.array(ChatMessage),
  usage: Usage,
  /**
   * What the runner kind needs to resume without repeating work, e.g. the remote task id of
   * an `a2a` run. Opaque to the kernel.
   */
  state: JsonObject.optional(),
});
export type Checkpoint = z.infer<typeof Checkpoint>;

export const TaskResult = z.object({ text: z.string() });
export type TaskResult = z.infer<typeof TaskResult>;

/** The answer a waiting tool call got: a decision (approval) or a result (external tool). */
export const CallAnswer = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("approval"),
    decision: z.enum(["approve", "reject"]),
    reason: z.string().optional(),
    /** `client` (POST /approvals) or `timeout` (the policy's timeout_ms passed). */
    by: z.enum(["client", "timeout"]),
    answer_id: z.string(),
    decided_at: Timestamp,
  }),
  z.object({ type: z.literal("tool_result"), result: z.unknown(), answer_id: z.string(), decided_at: Timestamp }),
  z.object({
    type: z.literal("tool_error"),
    error: z.object({ code: z.string(), message: z.string() }),
    answer_id: z.string(),
    decided_at: Timestamp,
  }),
]);
export type CallAnswer = z.infer<typeof CallAnswer>;

/**
 * One tool call of a parked round. `kind`: `run` (needs nothing, runs on resume), `approval`
 * (waits for a decision), `external` (waits for the client's result).
 */
export const PendingCall = z.object({
  call_id: z.string(),
  tool: z.string(),
  args: JsonObject,
  kind: z.enum(["run", "approval", "external"]),
  /** Why an approval is needed (the policy's words). */
  reason: z.string().optional(),
  /** When an unanswered approval times out (the policy's timeout_ms), or null. */
  expires_at: Timestamp.nullable().default(null),
  answer: CallAnswer.nullable().default(null),
});
export type PendingCall = z.infer<typeof PendingCall>;

/** A round whose tool calls wait for answers: the task is `input_required` until all are in. */
export const PendingRound = z.object({
  round: z.number().int().min(1),
  /** The run and attempt that parked it. */
  run_id: z.string(),
  attempt: z.number().int().min(1),
  parked_at: Timestamp,
  calls: z.array(PendingCall),
});
export type PendingRound = z.infer<typeof PendingRound>;

/** Calls still waiting for an answer. */
export function unanswered(p: PendingRound | null): PendingCall[] {
  return p ? p.calls.filter((c) => c.kind !== "run" && c.answer === null) : [];
}

/** The task record in KV `sy_tasks` (key: task id). */
export const TaskRecord = z.object({
  v: z.literal(1),
  id: TaskId,
  tenant: Slug,
  agent: Slug,
  input: TaskInput,
  executor: Executor,
  runner_kind: Slug,
  status: TaskStatus,
  attempt: z.number().int().min(1),
  run_id: z.string().nullable(),
  node_id: z.string().nullable(),
  created_at: Timestamp,
  updated_at: Timestamp,
  started_at: Timestamp.nullable(),
  finished_at: Timestamp.nullable(),
  result: TaskResult.nullable(),
  error: WireError.nullable(),
  usage: Usage,
  metadata: JsonObject,
  idempotency_key: z.string().nullable(),
  plan: RunPlan.nullable(),
  checkpoint: Checkpoint.nullable(),
  /** While queued for a retry: when the next attempt may be dispatched. */
  not_before: Timestamp.nullable(),
  /**
   * The round whose tool calls wait for (or got) answers. Set when the task parks; kept while
   * the resumed attempt runs those calls, until its checkpoint passes the round.
   */
  pending: PendingRound.nullable().default(null),
  /** Answered calls of earlier parked rounds (the last 100, args dropped), so a late answer gets 409 with the decision that stands. */
  answered: z.array(PendingCall).default([]),
  /** Attempts started by resuming a parked task or after a drain's hand-back; they do not count against retry.max_attempts. */
  resumes: z.number().int().min(0).default(0),
});
export type TaskRecord = z.infer<typeof TaskRecord>;

/** Live fields from the runner's replay cache in Redis, present while a task runs. */
export const TaskLive = z.object({
  node_id: z.string().optional(),
  run_id: z.string().optional(),
  status: z.string().optional(),
  started_at: z.string().optional(),
  last_event_at: z.string().optional(),
  round_count: z.number().int().optional(),
  last_tool_name: z.string().optional(),
  last_tool_phase: z.string().optional(),
  last_usage: Usage.optional(),
});
export type TaskLive = z.infer<typeof TaskLive>;

/**
 * The reaper's view of a task (ARCHITECTURE.md §3): carried as JSON in the `Sy-Task-View`
 * header of every write of the task's record in KV sy_tasks, so the kernel's reaper learns
 * which tasks are unfinished by reading that bucket headers-only, without a second bucket.
 */
export const ActiveTask = z.object({
  task_id: TaskId,
  status: TaskStatus,
  attempt: z.number().int(),
  run_id: z.string().nullable(),
  runner_kind: Slug,
  /** When the task entered its current status. */
  since: Timestamp,
  deadline_at: Timestamp.nullable(),
  /** While parked: when the first unanswered approval times out. */
  wait_until: Timestamp.nullable().default(null),
  /** The model provider its run needs (a node of the kind without it cannot take it), if any. */
  provider: z.string().nullable().default(null),
});
export type ActiveTask = z.infer<typeof ActiveTask>;

/** Headers of a task record's write in KV sy_tasks. */
export const TaskRecordHeaders = {
  /** The record's ActiveTask (JSON), for readers of the bucket's headers only. */
  view: "Sy-Task-View",
} as const;

/** For a queued task: how many live runner nodes serve its kind. */
export const QueueInfo = z.object({ runner_nodes: z.number().int(), message: z.string().optional() });
export type QueueInfo = z.infer<typeof QueueInfo>;

/** A task as the HTTP API shows it: the record without kernel internals, plus live fields. */
export const TaskView = TaskRecord.pick({
  id: true,
  tenant: true,
  agent: true,
  input: true,
  executor: true,
  status: true,
  attempt: true,
  run_id: true,
  created_at: true,
  updated_at: true,
  started_at: true,
  finished_at: true,
  result: true,
  error: true,
  usage: true,
  metadata: true,
  pending: true,
}).extend({
  live: TaskLive.optional(),
  queue: QueueInfo.optional(),
  /**
   * What the runner kind reports about its run (replay cache, kept 1 h after the run), e.g. a
   * `process` agent's `{status: "running", pid, workspace}` or an `a2a` run's remote task id.
   */
  runner_state: JsonObject.optional(),
});
export type TaskView = z.infer<typeof TaskView>;

export function toTaskView(task: TaskRecord, live?: TaskLive, queue?: QueueInfo, runnerState?: JsonObject): TaskView {
  return {
    id: task.id,
    tenant: task.tenant,
    agent: task.agent,
    input: task.input,
    executor: task.executor,
    status: task.status,
    attempt: task.attempt,
    run_id: task.run_id,
    created_at: task.created_at,
    updated_at: task.updated_at,
    started_at: task.started_at,
    finished_at: task.finished_at,
    result: task.result,
    error: task.error,
    usage: task.usage,
    metadata: task.metadata,
    pending: task.pending,
    ...(live ? { live } : {}),
    ...(queue ? { queue } : {}),
    ...(runnerState ? { runner_state: runnerState } : {}),
  };
}
