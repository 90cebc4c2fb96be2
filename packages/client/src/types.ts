// The HTTP API's types, written out so the published package needs nothing from the monorepo.
// They mirror the zod contracts (@switchyard/contracts); test/contracts.check.ts makes the
// type checker fail the build when the two drift apart.

export type JsonObject = Record<string, unknown>;

export type TaskStatus = "queued" | "running" | "input_required" | "completed" | "failed" | "canceled";
export const TERMINAL_STATUSES: readonly TaskStatus[] = ["completed", "failed", "canceled"];

export interface ChatMessage {
  role: "system" | "user" | "assistant" | "tool";
  content: string;
}
/** A task's input: a string, or a conversation of `{role, content}` messages. */
export type TaskInput = string | ChatMessage[];

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
  /** Of the input tokens, those the provider read from its prompt cache (where it says). */
  cached_input_tokens?: number;
  /** Of the output tokens, those spent on reasoning (where the provider says). */
  reasoning_tokens?: number;
}

export interface WireError {
  code: string;
  message: string;
  retryable: boolean;
  details?: unknown;
}

export type Executor = { type: "local" } | { type: "remote"; runner: { kind: string; config: JsonObject } };

export interface TaskLimits {
  max_rounds?: number;
  max_tokens?: number;
  deadline_ms?: number;
}

export interface SubmitTaskBody {
  agent: string;
  input: TaskInput;
  executor?: Executor;
  metadata?: JsonObject;
  /** Lowers the agent's limits for this task; raising one is a 400 naming the field. */
  limits?: TaskLimits;
}

export interface SubmitTaskResponse {
  id: string;
  status: TaskStatus;
  agent: string;
  events_url: string;
  /** True when the Idempotency-Key matched an earlier submit and this is that task. */
  duplicate: boolean;
}

export type CallAnswer =
  | { type: "approval"; decision: "approve" | "reject"; reason?: string; by: "client" | "timeout"; answer_id: string; decided_at: string }
  | { type: "tool_result"; result: unknown; answer_id: string; decided_at: string }
  | { type: "tool_error"; error: { code: string; message: string }; answer_id: string; decided_at: string };

export interface PendingCall {
  call_id: string;
  tool: string;
  args: JsonObject;
  kind: "run" | "approval" | "external";
  reason?: string;
  expires_at: string | null;
  answer: CallAnswer | null;
}

export interface PendingRound {
  round: number;
  run_id: string;
  attempt: number;
  parked_at: string;
  calls: PendingCall[];
}

export interface TaskLive {
  node_id?: string;
  run_id?: string;
  status?: string;
  started_at?: string;
  last_event_at?: string;
  round_count?: number;
  last_tool_name?: string;
  last_tool_phase?: string;
  last_usage?: Usage;
}

/** A task as the HTTP API shows it. */
export interface TaskView {
  id: string;
  tenant: string;
  agent: string;
  input: TaskInput;
  executor: Executor;
  status: TaskStatus;
  attempt: number;
  run_id: string | null;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  finished_at: string | null;
  result: { text: string } | null;
  error: WireError | null;
  usage: Usage;
  metadata: JsonObject;
  pending: PendingRound | null;
  live?: TaskLive;
  queue?: { runner_nodes: number; message?: string };
  runner_state?: JsonObject;
}

export interface ListTasksQuery {
  status?: TaskStatus;
  agent?: string;
  /** 1 to 500, default 50. */
  limit?: number;
  cursor?: string;
}

export interface ListTasksResponse {
  items: TaskView[];
  next_cursor: string | null;
}

export interface CancelResponse {
  id: string;
  status: TaskStatus;
  cancel_requested: boolean;
}

export interface ApprovalBody {
  call_id: string;
  decision: "approve" | "reject";
  reason?: string;
}

/** Exactly one of `result` (any JSON) and `error`. */
export type ToolResultBody = { call_id: string; result: unknown } | { call_id: string; error: string | { message: string; code?: string } };

export interface AnswerResponse {
  id: string;
  call_id: string;
  /** `recorded`: the kernel applied it; `pending`: durable, but no kernel confirmed it in time. */
  outcome: "recorded" | "pending";
  status: TaskStatus;
  /** Calls of the round still waiting for an answer. */
  waiting: string[];
  answer?: CallAnswer;
}

/** An agent definition as the catalog stores it (defaults filled in). */
export interface AgentDef {
  name: string;
  kind: string;
  description?: string;
  model?: string;
  operator_ref?: string;
  instructions: string;
  tools: (string | { name: string; description?: string; parameters?: JsonObject; external: true })[];
  executor: Executor;
  limits: { max_rounds: number; max_tokens?: number; deadline_ms?: number };
  retry: { max_attempts: number; initial_backoff_ms: number; max_backoff_ms: number };
  approval: JsonObject & { policy: "always" | "never" | "pattern" | "threshold" | "composite" };
  script?: JsonObject[];
}

/** What `agents.put` accepts: a definition with any defaulted field left out. */
export type AgentDefInput = Partial<AgentDef> & JsonObject;

export interface RunnerNode {
  id: string;
  kinds: string[];
  slots: { total: number; used: number; free: number };
  version: string;
  started_at: string;
  last_heartbeat: string;
  draining: boolean;
}

export interface RunnerKindInfo {
  kind: string;
  /** Live, non-draining nodes serving the kind now. */
  nodes: number;
  free_slots: number;
  /** Work items waiting to be claimed. */
  queue_depth: number;
  registered: boolean;
  description?: string;
  config_schema?: JsonObject;
}

export interface Health {
  status: "ok" | "unavailable";
  checks?: Record<string, string>;
}

/** The HTTP error body. */
export interface HttpErrorBody {
  error: { code: string; message: string; details?: unknown };
}

// ---- Events --------------------------------------------------------------------------------

export interface EventDataByType {
  status: {
    status: TaskStatus;
    attempt?: number;
    result?: { text: string };
    error?: WireError;
    reason?: string;
    /** `input_required`: the calls the task waits for. */
    waiting?: { call_id: string; tool: string; kind: "approval" | "external" }[];
  };
  "step.start": { round: number };
  "step.finish": { round: number };
  "text.delta": { round: number; delta: string };
  /** Reasoning text, where a provider streams it (not part of the round's message). */
  "reasoning.delta": { round: number; delta: string };
  "tool.call": { round: number; call_id: string; tool: string; args: JsonObject; external?: boolean };
  "tool.result": { round: number; call_id: string; tool: string; result?: unknown; error?: WireError };
  message: { round: number; role: "assistant"; content: string };
  usage: Usage;
  "approval.requested": { round: number; call_id: string; tool: string; args: JsonObject; reason: string; expires_at: string | null };
  "approval.decided": { round: number; call_id: string; tool: string; decision: "approve" | "reject"; reason?: string; by: "client" | "timeout" };
  error: WireError;
}
export type EventType = keyof EventDataByType;

interface EventBase {
  /** The event's sequence in the stream: strictly increasing within a task, not contiguous. */
  seq: number;
  task_id: string;
  run_id: string | null;
  attempt: number;
  ts: string;
}

/** One task event, discriminated by `type`. (A server newer than this client may send types not listed here.) */
export type TaskEvent = { [K in EventType]: EventBase & { type: K; data: EventDataByType[K] } }[EventType];
