// Payloads of every NATS subject: commands to the kernel, work items, claims, control, and
// the spawner's request/reply calls. Every message carries `v: 1`.
import { z } from "zod";
import { AgentDef, Executor, RunPlan, TaskLimits } from "./agent.ts";
import { JsonObject, Slug, TaskId, Timestamp } from "./common.ts";
import { WireError } from "./errors.ts";
import { CallAnswer, Checkpoint, PendingRound, TaskInput, TaskResult, TaskStatus, Usage } from "./task.ts";

const V1 = z.literal(1);

/** An agent definition as stored: its KV `sy_agents` key (`<tenant>.<name>` or `_shared.<name>`) and revision. */
export const AgentSource = z.object({ key: z.string().min(1).max(300), revision: z.number().int().positive() });
export type AgentSource = z.infer<typeof AgentSource>;

// ---- sy.cmd.* (SY_CMD stream, consumed by the kernel) ----

export const SubmitTask = z.object({
  v: V1,
  task_id: TaskId,
  tenant: Slug,
  agent: Slug,
  input: TaskInput,
  executor: Executor.optional(),
  metadata: JsonObject.default({}),
  /** The task's own limits; they lower the agent's (the gateway refuses raising ones). */
  limits: TaskLimits.optional(),
  idempotency_key: z.string().max(256).nullable().default(null),
  submitted_at: Timestamp,
  /** Core NATS subject the kernel answers on (SubmitAccepted) once the task record exists. */
  notify: z.string().max(256).optional(),
  /**
   * The agent definition the gateway checked this submit against: its KV `sy_agents` key and
   * revision. The kernel runs a plan compiled from exactly that revision, from its cache when
   * it has one (no spawner request); without it, the spawner compiles the current definition.
   */
  agent_source: AgentSource.optional(),
});
export type SubmitTask = z.infer<typeof SubmitTask>;

/** The kernel's answer on `notify`: the task that now exists for this submit (for a duplicate idempotency key, the earlier one). */
export const SubmitAccepted = z.object({ v: V1, task_id: TaskId, submitted_task_id: TaskId, status: TaskStatus, agent: Slug });
export type SubmitAccepted = z.infer<typeof SubmitAccepted>;

export const CancelTask = z.object({ v: V1, task_id: TaskId, reason: z.string().max(1000).optional() });
export type CancelTask = z.infer<typeof CancelTask>;

/** A client's answer to a waiting tool call: an approval decision, or an external tool's result or error. */
export const AnswerCall = z.object({
  v: V1,
  task_id: TaskId,
  /** Unique per HTTP request; a redelivered command with the same id is recognised as ours. */
  answer_id: z.string().min(1).max(64),
  call_id: z.string().min(1).max(128),
  answer: z.discriminatedUnion("type", [
    z.object({ type: z.literal("approval"), decision: z.enum(["approve", "reject"]), reason: z.string().max(4000).optional() }),
    z.object({ type: z.literal("tool_result"), result: z.unknown() }),
    z.object({ type: z.literal("tool_error"), error: z.object({ code: z.string().max(128), message: z.string().max(10_000) }) }),
  ]),
  /** Core NATS subject the kernel answers on (AnswerOutcome). */
  notify: z.string().max(256).optional(),
});
export type AnswerCall = z.infer<typeof AnswerCall>;

/** The kernel's verdict on an answer, sent to `notify`. */
export const AnswerOutcome = z.object({
  v: V1,
  answer_id: z.string(),
  task_id: TaskId,
  call_id: z.string(),
  outcome: z.enum(["accepted", "already_decided", "call_not_found", "task_not_waiting", "wrong_kind", "invalid_result"]),
  message: z.string(),
  /** The task's status after the answer (`queued` when this answer resumed it). */
  task_status: TaskStatus,
  /** For already_decided: the answer that stands. */
  standing: CallAnswer.optional(),
  /** For invalid_result: `{path, message}` per mismatch with the tool's `returns` schema. */
  details: z.unknown().optional(),
  /** Calls of the parked round still waiting after this answer. */
  waiting: z.array(z.string()).default([]),
});
export type AnswerOutcome = z.infer<typeof AnswerOutcome>;

const RunRef = { v: V1, task_id: TaskId, run_id: z.string().min(1).max(64), attempt: z.number().int().min(1) };

export const RunCheckpointed = z.object({ ...RunRef, checkpoint: Checkpoint });
export type RunCheckpointed = z.infer<typeof RunCheckpointed>;

export const RunFinished = z.object({ ...RunRef, result: TaskResult, usage: Usage });
export type RunFinished = z.infer<typeof RunFinished>;

export const RunFailed = z.object({
  ...RunRef,
  error: WireError,
  usage: Usage,
  /** The earliest time a retry may start (a provider's Retry-After); the kernel's backoff waits at least this long. */
  not_before: Timestamp.optional(),
});
export type RunFailed = z.infer<typeof RunFailed>;

/** A draining runner hands a run back so the kernel re-dispatches it at once. */
export const RunReleased = z.object({ ...RunRef, reason: z.string().max(1000) });
export type RunReleased = z.infer<typeof RunReleased>;

/** A dispatch that is due later (retry backoff): the kernel naks it until `due_at`. */
export const DispatchDue = z.object({ v: V1, task_id: TaskId, attempt: z.number().int().min(1), due_at: Timestamp });
export type DispatchDue = z.infer<typeof DispatchDue>;

/**
 * A verdict of the kernel's reaper (ARCHITECTURE.md §5), sent to the kernel as a command so that
 * it is applied, effects included, and acked only then: a kernel that dies in between leaves it
 * to be redelivered. `attempt` (and `run_id` for a lost run) is what the reaper saw; the kernel
 * applies the verdict only to that attempt.
 */
export const ReaperVerdict = z.discriminatedUnion("verdict", [
  /** The run's lease lapsed: fence it, re-dispatch or fail. */
  z.object({ v: V1, verdict: z.literal("run_lost"), task_id: TaskId, attempt: z.number().int().min(1), run_id: z.string().min(1).max(128) }),
  /** The task is past its deadline. */
  z.object({ v: V1, verdict: z.literal("deadline"), task_id: TaskId, attempt: z.number().int().min(1) }),
  /** A queued task whose kind no live node has served for QUEUE_TIMEOUT_MS. */
  z.object({ v: V1, verdict: z.literal("queue_timeout"), task_id: TaskId, attempt: z.number().int().min(1), waited_ms: z.number().int().min(0) }),
  /** A parked task's first unanswered approval is past its timeout. */
  z.object({ v: V1, verdict: z.literal("approval_timeout"), task_id: TaskId, attempt: z.number().int().min(1) }),
]);
export type ReaperVerdict = z.infer<typeof ReaperVerdict>;

// ---- sy.work.<kind> (SY_WORK stream, consumed by runner nodes) ----

export const WorkItem = z.object({
  v: V1,
  task_id: TaskId,
  attempt: z.number().int().min(1),
  kind: Slug,
  /** The model provider the task needs (`openai`, `ollama`…): a node without it leaves the item to others. */
  provider: z.string().max(64).optional(),
});
export type WorkItem = z.infer<typeof WorkItem>;

// ---- sy.kernel.round (request/reply): the kernel's check after every model round ----

export const ToolCallRequest = z.object({ call_id: z.string().min(1).max(128), tool: z.string().min(1).max(128), args: JsonObject });
export type ToolCallRequest = z.infer<typeof ToolCallRequest>;

/**
 * After each model round, before any tool runs, a runner reports the round (usage so far and
 * the tool calls the model asked for) and waits for the kernel's verdict. With tool calls it
 * carries the checkpoint to park at: the conversation including this round's assistant message.
 */
export const RoundReport = z.object({
  ...RunRef,
  round: z.number().int().min(1),
  usage: Usage,
  calls: z.array(ToolCallRequest).max(256),
  checkpoint: Checkpoint.nullable(),
  /**
   * Whether this run can end its attempt and be resumed with answers (the model loop can; a
   * `process` agent cannot). When it cannot, a call that needs an answer fails the task
   * (`parking_unsupported`) instead of parking it: such a call never runs unanswered.
   */
  can_park: z.boolean().default(true),
});
export type RoundReport = z.infer<typeof RoundReport>;

/**
 * `proceed`: run the calls (or finish when there are none). `park`: the task now waits for
 * answers (`input_required`); end the attempt without reporting. `stop`: the task ended
 * (budget exceeded, canceled) or this run is fenced; end the attempt without reporting.
 */
export const RoundVerdict = z.discriminatedUnion("verdict", [
  z.object({ v: V1, verdict: z.literal("proceed") }),
  z.object({ v: V1, verdict: z.literal("park"), waiting: z.array(z.string()) }),
  z.object({ v: V1, verdict: z.literal("stop"), reason: z.enum(["budget_exceeded", "fenced", "terminal"]), message: z.string() }),
]);
export type RoundVerdict = z.infer<typeof RoundVerdict>;

// ---- sy.kernel.claim (request/reply) ----

export const ClaimRequest = z.object({
  v: V1,
  task_id: TaskId,
  attempt: z.number().int().min(1),
  node_id: z.string().min(1).max(128),
});
export type ClaimRequest = z.infer<typeof ClaimRequest>;

export const ClaimGranted = z.object({
  v: V1,
  granted: z.literal(true),
  task_id: TaskId,
  run_id: z.string(),
  attempt: z.number().int(),
  tenant: Slug,
  agent: Slug,
  input: TaskInput,
  plan: RunPlan,
  checkpoint: Checkpoint.nullable(),
  /** Token usage of every earlier attempt: usage events stay cumulative. */
  usage: Usage,
  /** A parked round whose calls are all answered: run them, then go on from the checkpoint. */
  resume: PendingRound.nullable(),
  /** When the task was created: the start of its deadline, which the run checks after a final round. */
  created_at: Timestamp.optional(),
});
export const ClaimRefused = z.object({
  v: V1,
  granted: z.literal(false),
  task_id: TaskId,
  reason: z.enum(["not_found", "terminal", "stale_attempt", "already_claimed"]),
  message: z.string(),
});
export const ClaimReply = z.discriminatedUnion("granted", [ClaimGranted, ClaimRefused]);
export type ClaimGranted = z.infer<typeof ClaimGranted>;
export type ClaimRefused = z.infer<typeof ClaimRefused>;
export type ClaimReply = z.infer<typeof ClaimReply>;

// ---- sy.ctl.task.<task_id> (core NATS, to the runner that owns the run) ----

export const TaskControl = z.object({
  v: V1,
  action: z.literal("abort"),
  task_id: TaskId,
  run_id: z.string().nullable(),
  reason: z.string(),
  /** `fenced`: the task lives on with another run (leave remote work for it); `ended`: the task is over. */
  cause: z.enum(["fenced", "ended"]).default("ended"),
});
export type TaskControl = z.infer<typeof TaskControl>;

// ---- sy.spawner.* (request/reply) ----

/** Every spawner reply: a value, or a wire error. */
export const SpawnerReply = z.discriminatedUnion("ok", [
  z.object({ ok: z.literal(true), value: z.unknown() }),
  z.object({ ok: z.literal(false), error: WireError }),
]);
export type SpawnerReply = z.infer<typeof SpawnerReply>;

// `tenant`: whose catalog. A tenant reads its own agents and the shared ones (loaded from
// AGENTS_DIR), and writes only its own; without `tenant` a request sees the shared catalog only.
export const AgentPutRequest = z.object({ v: V1, name: Slug, def: z.unknown(), tenant: Slug.optional() });
export type AgentPutRequest = z.infer<typeof AgentPutRequest>;
export const AgentNameRequest = z.object({ v: V1, name: Slug, tenant: Slug.optional() });
export type AgentNameRequest = z.infer<typeof AgentNameRequest>;
export const AgentListRequest = z.object({ v: V1, tenant: Slug.optional() });
/** `with_source`: the reply's value is a `PlanWithSource` (the plan and the definition it was compiled from), not a bare plan. */
export const PlanRequest = z.object({ v: V1, agent: Slug, executor: Executor.optional(), tenant: Slug.optional(), with_source: z.boolean().optional() });
export type PlanRequest = z.infer<typeof PlanRequest>;
export const PlanWithSource = z.object({ plan: RunPlan, source: AgentSource });
export type PlanWithSource = z.infer<typeof PlanWithSource>;
export { AgentDef, RunPlan };
