// Every NATS name the fleet uses: streams, subjects, consumers and buckets. Subjects are
// built here, never by concatenation at a call site. `SUBJECT_CATALOG` is the one table of
// subjects and their payload schemas (also rendered into the README and the JSON Schemas).
import type { z } from "zod";
import { Slug } from "./common.ts";
import { StoredEvent } from "./events.ts";
import {
  AgentListRequest,
  AgentNameRequest,
  AgentPutRequest,
  AnswerCall,
  CancelTask,
  ClaimReply,
  ClaimRequest,
  DispatchDue,
  PlanRequest,
  ReaperVerdict,
  RoundReport,
  RoundVerdict,
  RunCheckpointed,
  RunFailed,
  RunFinished,
  RunReleased,
  SpawnerReply,
  SubmitTask,
  TaskControl,
  WorkItem,
} from "./messages.ts";
import { OperatorRegister, OperatorReply, OperatorTurn, OperatorUnregister } from "./operators.ts";

export const STREAMS = {
  cmd: "SY_CMD",
  work: "SY_WORK",
  events: "SY_EVENTS",
} as const;

export const BUCKETS = {
  tasks: "sy_tasks",
  agents: "sy_agents",
  idempotency: "sy_idem",
  /** Runner kinds and their config JSON Schemas (key: kind → RunnerKindRecord), written by runner nodes. */
  runnerKinds: "sy_runner_kinds",
  /** Model providers and MCP servers of runner nodes (key: `provider.<name>` / `mcp.<name>`), written by runner nodes. */
  runnerCaps: "sy_runner_caps",
  /** Registered operators (key: id → OperatorRecord); entries expire unless re-registered. */
  operators: "sy_operators",
  /** API keys (key: key id → ApiKeyRecord, the secret only as its SHA-256), watched by every gateway. */
  apiKeys: "sy_api_keys",
} as const;

/** Durable consumer names. */
export const CONSUMERS = {
  kernelCommands: "kernel",
  /** One durable pull consumer per runner kind on SY_WORK, shared by every node of the kind. */
  work: (kind: string) => `work_${assertToken(kind)}`,
} as const;

function assertToken(token: string): string {
  if (!Slug.safeParse(token).success && !/^[0-9a-f-]{36}$/.test(token)) {
    throw new Error(`not a valid subject token: ${JSON.stringify(token)}`);
  }
  return token;
}

export const subjects = {
  cmdAll: "sy.cmd.>",
  submit: "sy.cmd.submit",
  cancel: "sy.cmd.cancel",
  answer: "sy.cmd.answer",
  runCheckpoint: "sy.cmd.run.checkpoint",
  runFinished: "sy.cmd.run.finished",
  runFailed: "sy.cmd.run.failed",
  runReleased: "sy.cmd.run.released",
  dispatchDue: "sy.cmd.dispatch",
  reap: "sy.cmd.reap",
  workAll: "sy.work.>",
  work: (kind: string) => `sy.work.${assertToken(kind)}`,
  eventsAll: "sy.events.>",
  events: (tenant: string, agent: string, taskId: string) => `sy.events.${assertToken(tenant)}.${assertToken(agent)}.${assertToken(taskId)}`,
  /** Every event of one task, whatever its tenant and agent. */
  taskEvents: (taskId: string) => `sy.events.*.*.${assertToken(taskId)}`,
  claim: "sy.kernel.claim",
  round: "sy.kernel.round",
  taskControl: (taskId: string) => `sy.ctl.task.${assertToken(taskId)}`,
  agentPut: "sy.spawner.agents.put",
  agentGet: "sy.spawner.agents.get",
  agentList: "sy.spawner.agents.list",
  agentDelete: "sy.spawner.agents.delete",
  plan: "sy.spawner.plan",
  operatorRegister: "sy.spawner.operators.register",
  operatorUnregister: "sy.spawner.operators.unregister",
  /** Turns of `operator` agents, answered by the operator registered under `id`. */
  operatorTurn: (id: string) => `sy.operator.${assertToken(id)}.turn`,
  /**
   * The subject of a task record in KV sy_tasks. The kernel publishes records there itself
   * (what the KV client does, plus headers: TaskRecordHeaders) with compare-and-set.
   */
  taskRecord: (taskId: string) => `$KV.${BUCKETS.tasks}.${assertToken(taskId)}`,
  taskRecordsAll: `$KV.${BUCKETS.tasks}.>`,
} as const;

/** The stream behind KV sy_tasks, which the kernel's reaper reads headers-only. */
export const TASK_RECORDS_STREAM = `KV_${BUCKETS.tasks}`;

/** Queue groups for request/reply services, so replicas share the load. */
export const QUEUE_GROUPS = { kernel: "kernel", spawner: "spawner" } as const;

export type SubjectKind = "jetstream" | "request" | "core";
export interface SubjectEntry {
  subject: string;
  kind: SubjectKind;
  stream?: string;
  payload: z.ZodType;
  reply?: z.ZodType;
  from: string;
  to: string;
  purpose: string;
}

/** The catalog: every subject, who sends, who receives, and the payload schema. */
export const SUBJECT_CATALOG: readonly SubjectEntry[] = [
  {
    subject: subjects.submit,
    kind: "jetstream",
    stream: STREAMS.cmd,
    payload: SubmitTask,
    from: "gateway",
    to: "kernel",
    purpose: "submit a task; Nats-Msg-Id is the idempotency key",
  },
  { subject: subjects.cancel, kind: "jetstream", stream: STREAMS.cmd, payload: CancelTask, from: "gateway", to: "kernel", purpose: "cancel a task" },
  {
    subject: subjects.answer,
    kind: "jetstream",
    stream: STREAMS.cmd,
    payload: AnswerCall,
    from: "gateway",
    to: "kernel",
    purpose: "an approval decision or an external tool's result for a parked task; the verdict goes to `notify`",
  },
  {
    subject: subjects.runCheckpoint,
    kind: "jetstream",
    stream: STREAMS.cmd,
    payload: RunCheckpointed,
    from: "runner-pool",
    to: "kernel",
    purpose: "a round finished; resume point for a new attempt",
  },
  {
    subject: subjects.runFinished,
    kind: "jetstream",
    stream: STREAMS.cmd,
    payload: RunFinished,
    from: "runner-pool",
    to: "kernel",
    purpose: "a run produced its final answer",
  },
  {
    subject: subjects.runFailed,
    kind: "jetstream",
    stream: STREAMS.cmd,
    payload: RunFailed,
    from: "runner-pool",
    to: "kernel",
    purpose: "a run failed; the kernel decides retry or fail",
  },
  {
    subject: subjects.runReleased,
    kind: "jetstream",
    stream: STREAMS.cmd,
    payload: RunReleased,
    from: "runner-pool",
    to: "kernel",
    purpose: "a draining runner hands a run back",
  },
  {
    subject: subjects.dispatchDue,
    kind: "jetstream",
    stream: STREAMS.cmd,
    payload: DispatchDue,
    from: "kernel",
    to: "kernel",
    purpose: "a delayed (backoff) dispatch, nak'd until due",
  },
  {
    subject: subjects.reap,
    kind: "jetstream",
    stream: STREAMS.cmd,
    payload: ReaperVerdict,
    from: "kernel (reaper)",
    to: "kernel",
    purpose: "a reaper verdict (run lost, deadline, queue timeout, approval timeout), applied and acked after its effects",
  },
  {
    subject: "sy.work.<kind>",
    kind: "jetstream",
    stream: STREAMS.work,
    payload: WorkItem,
    from: "kernel",
    to: "runner-pool",
    purpose: "dispatch to the nodes serving a runner kind",
  },
  {
    subject: "sy.events.<tenant>.<agent>.<task_id>",
    kind: "jetstream",
    stream: STREAMS.events,
    payload: StoredEvent,
    from: "kernel, runner-pool",
    to: "gateway, any consumer",
    purpose: "the event log of a task; stream sequence = event seq",
  },
  {
    subject: subjects.claim,
    kind: "request",
    payload: ClaimRequest,
    reply: ClaimReply,
    from: "runner-pool",
    to: "kernel",
    purpose: "claim a dispatched task; grants a fresh run_id",
  },
  {
    subject: subjects.round,
    kind: "request",
    payload: RoundReport,
    reply: RoundVerdict,
    from: "runner-pool",
    to: "kernel",
    purpose: "a model round finished: budgets and the approval policy decide whether its tool calls run, park the task, or stop it",
  },
  { subject: "sy.ctl.task.<task_id>", kind: "core", payload: TaskControl, from: "kernel", to: "runner-pool", purpose: "abort the run of a canceled task" },
  {
    subject: subjects.agentPut,
    kind: "request",
    payload: AgentPutRequest,
    reply: SpawnerReply,
    from: "gateway",
    to: "spawner",
    purpose: "create or replace an agent definition",
  },
  {
    subject: subjects.agentGet,
    kind: "request",
    payload: AgentNameRequest,
    reply: SpawnerReply,
    from: "gateway",
    to: "spawner",
    purpose: "read one agent definition",
  },
  {
    subject: subjects.agentList,
    kind: "request",
    payload: AgentListRequest,
    reply: SpawnerReply,
    from: "gateway",
    to: "spawner",
    purpose: "list agent definitions",
  },
  {
    subject: subjects.agentDelete,
    kind: "request",
    payload: AgentNameRequest,
    reply: SpawnerReply,
    from: "gateway",
    to: "spawner",
    purpose: "delete an agent definition",
  },
  {
    subject: subjects.operatorRegister,
    kind: "request",
    payload: OperatorRegister,
    reply: SpawnerReply,
    from: "an operator, gateway (WebSocket)",
    to: "spawner",
    purpose: "register an operator, or keep its registration alive (re-sent every few seconds)",
  },
  {
    subject: subjects.operatorUnregister,
    kind: "request",
    payload: OperatorUnregister,
    reply: SpawnerReply,
    from: "an operator, gateway (WebSocket)",
    to: "spawner",
    purpose: "unregister an operator",
  },
  {
    subject: "sy.operator.<id>.turn",
    kind: "request",
    payload: OperatorTurn,
    reply: OperatorReply,
    from: "runner-pool",
    to: "the operator (directly, or through the gateway's WebSocket)",
    purpose: "one turn of an operator agent",
  },
  {
    subject: subjects.plan,
    kind: "request",
    payload: PlanRequest,
    reply: SpawnerReply,
    from: "kernel",
    to: "spawner",
    purpose: "compile an agent definition into a run plan",
  },
];
