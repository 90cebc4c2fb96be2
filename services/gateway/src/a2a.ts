// Every agent as an Agent2Agent (A2A v1.0) agent: an A2ARequestHandler of @a2a-js/sdk whose
// tasks are Switchyard tasks. Commands go through the gateway's own HTTP routes (app.inject,
// with the caller's headers), so auth, validation, idempotency and limits are exactly those of
// /v1; events are read from SY_EVENTS with the same read-side fencing as the SSE route.
//
// Mapping: a message submits a task (Idempotency-Key `a2a:<messageId>`, so a retried message
// is the same task); a message naming a task that waits (input-required) answers it. Statuses
// map to A2A states; text deltas, tool calls and results are `working` status messages; the
// result is one artifact `result`, sent before the `completed` status.
import { type AgentCard, type Message, type Part, Role, type StreamResponse, type Task, TaskState, type TaskStatus } from "@a2a-js/sdk";
import { RequestMalformedError, TaskNotCancelableError, TaskNotFoundError, UnsupportedOperationError } from "@a2a-js/sdk/errors";
import type { A2ARequestHandler } from "@a2a-js/sdk/server";
import { DeliverPolicy } from "@nats-io/jetstream";
import { STREAMS, StoredEvent, subjects, type TaskView } from "@switchyard/contracts";
import type { FastifyInstance } from "fastify";
import type { GatewayContext } from "./context.ts";

const TERMINAL = new Set(["completed", "failed", "canceled"]);

/** A Switchyard event as read from the stream, with its seq. */
interface SeqEvent {
  seq: number;
  type: string;
  attempt: number;
  data: Record<string, unknown>;
}

export interface A2aCall {
  app: FastifyInstance;
  ctx: GatewayContext;
  agent: string;
  /** The caller's auth header, passed on to every /v1 call. */
  authorization: string | undefined;
  /** This agent's JSON-RPC URL, as the card names it. */
  url: string;
}

/** An HTTP error from a /v1 route, with its problem body. */
class V1Error extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function v1<T>(c: A2aCall, method: "GET" | "POST", url: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const res = await c.app.inject({
    method,
    url,
    headers: {
      ...(c.authorization ? { authorization: c.authorization } : {}),
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
      ...headers,
    },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
  });
  const parsed = res.body ? (JSON.parse(res.body) as unknown) : null;
  if (res.statusCode >= 400) {
    const e = (parsed as { error?: { code?: string; message?: string } } | null)?.error;
    throw new V1Error(res.statusCode, e?.code ?? "internal", e?.message ?? `HTTP ${res.statusCode}`);
  }
  return parsed as T;
}

const text = (value: string): Part => ({ content: { $case: "text", value }, metadata: undefined, filename: "", mediaType: "text/plain" });
const data = (value: unknown): Part => ({ content: { $case: "data", value }, metadata: undefined, filename: "", mediaType: "application/json" });

function agentMessage(taskId: string, contextId: string, parts: Part[]): Message {
  return { messageId: crypto.randomUUID(), contextId, taskId, role: Role.ROLE_AGENT, parts, metadata: undefined, extensions: [], referenceTaskIds: [] };
}

function toState(status: string, attempt = 1): TaskState {
  switch (status) {
    case "queued":
      return attempt > 1 ? TaskState.TASK_STATE_WORKING : TaskState.TASK_STATE_SUBMITTED;
    case "running":
      return TaskState.TASK_STATE_WORKING;
    case "input_required":
      return TaskState.TASK_STATE_INPUT_REQUIRED;
    case "completed":
      return TaskState.TASK_STATE_COMPLETED;
    case "failed":
      return TaskState.TASK_STATE_FAILED;
    case "canceled":
      return TaskState.TASK_STATE_CANCELED;
    default:
      return TaskState.TASK_STATE_UNSPECIFIED;
  }
}

const contextOf = (t: TaskView): string => (typeof t.metadata.a2a_context_id === "string" && t.metadata.a2a_context_id ? t.metadata.a2a_context_id : t.id);

/** What a waiting task asks for, in words and as data (the calls and how to answer them). */
function waitingMessage(t: TaskView): Message {
  const calls = (t.pending?.calls ?? []).filter((c) => c.kind !== "run" && c.answer === null);
  const words = calls
    .map((c) =>
      c.kind === "approval" ? `approve ${c.tool}(${JSON.stringify(c.args)})? ${c.reason ?? ""}`.trim() : `result of ${c.tool}(${JSON.stringify(c.args)})?`,
    )
    .join("; ");
  return agentMessage(t.id, contextOf(t), [
    text(`${words}. Reply "approve" or "reject <reason>" for approvals, or the tool's result as JSON.`),
    data({ waiting: calls.map((c) => ({ call_id: c.call_id, kind: c.kind, tool: c.tool, args: c.args, ...(c.reason ? { reason: c.reason } : {}) })) }),
  ]);
}

function statusOf(t: TaskView): TaskStatus {
  const message =
    t.status === "input_required"
      ? waitingMessage(t)
      : t.status === "failed" && t.error
        ? agentMessage(t.id, contextOf(t), [text(`${t.error.code}: ${t.error.message}`)])
        : t.status === "completed" && t.result
          ? agentMessage(t.id, contextOf(t), [text(t.result.text)])
          : undefined;
  return { state: toState(t.status, t.attempt), message, timestamp: t.updated_at };
}

function toA2aTask(t: TaskView): Task {
  const input = typeof t.input === "string" ? t.input : t.input.map((m) => m.content).join("\n");
  const userMessage: Message = {
    messageId: typeof t.metadata.a2a_message_id === "string" ? t.metadata.a2a_message_id : `${t.id}-input`,
    contextId: contextOf(t),
    taskId: t.id,
    role: Role.ROLE_USER,
    parts: [text(input)],
    metadata: undefined,
    extensions: [],
    referenceTaskIds: [],
  };
  return {
    id: t.id,
    contextId: contextOf(t),
    status: statusOf(t),
    artifacts: t.result ? [resultArtifact(t.result.text)] : [],
    history: [userMessage],
    metadata: { switchyard: { agent: t.agent, attempt: t.attempt, usage: t.usage } },
  };
}

const resultArtifact = (value: string) => ({
  artifactId: "result",
  name: "result",
  description: "The task's answer",
  parts: [text(value)],
  metadata: undefined,
  extensions: [],
});

/**
 * The task's events after `after`, read from SY_EVENTS until its terminal status (or the
 * signal), with read-side fencing: once a status event announced attempt N, events of older
 * attempts are dropped.
 */
async function* taskEvents(c: A2aCall, t: TaskView, after: number, signal: AbortSignal, stopAtInputRequired: boolean): AsyncGenerator<SeqEvent> {
  const subject = subjects.events(t.tenant, t.agent, t.id);
  const consumer = await c.ctx.js.consumers.get(STREAMS.events, {
    filter_subjects: subject,
    ...(after > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: after + 1 } : { deliver_policy: DeliverPolicy.All }),
    // Milliseconds (the client converts): a reader that vanishes leaves no consumer behind for long.
    inactive_threshold: 30_000,
  });
  const messages = await consumer.consume({ max_messages: 256 });
  const onAbort = () => void messages.close();
  signal.addEventListener("abort", onAbort, { once: true });
  let maxAttempt = 0;
  try {
    for await (const m of messages) {
      if (signal.aborted) return;
      const parsed = StoredEvent.safeParse(m.json());
      if (!parsed.success) continue;
      const e = parsed.data;
      if (e.type === "status") maxAttempt = Math.max(maxAttempt, e.attempt);
      else if (e.attempt < maxAttempt) continue;
      const ev: SeqEvent = { seq: m.seq, type: e.type, attempt: e.attempt, data: (e.data ?? {}) as Record<string, unknown> };
      yield ev;
      const status = e.type === "status" ? String(ev.data.status) : "";
      if (TERMINAL.has(status) || (stopAtInputRequired && status === "input_required")) return;
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
    await messages.close().catch(() => undefined);
    void consumer.delete().catch(() => undefined);
  }
}

/** The seq of the task's newest event (0 when none). */
async function lastSeq(c: A2aCall, t: TaskView): Promise<number> {
  try {
    const m = await c.ctx.jsm.streams.getMessage(STREAMS.events, { last_by_subj: subjects.events(t.tenant, t.agent, t.id) });
    return m?.seq ?? 0;
  } catch {
    return 0;
  }
}

/** Maps Switchyard events of `t` to A2A stream responses; ends at a terminal or input-required status. */
async function* streamTask(c: A2aCall, t: TaskView, after: number, signal: AbortSignal): AsyncGenerator<StreamResponse> {
  const ctxId = contextOf(t);
  const status = (state: TaskState, parts?: Part[]): StreamResponse => ({
    payload: {
      $case: "statusUpdate",
      value: {
        taskId: t.id,
        contextId: ctxId,
        status: { state, message: parts ? agentMessage(t.id, ctxId, parts) : undefined, timestamp: new Date().toISOString() },
        metadata: undefined,
      },
    },
  });
  for await (const e of taskEvents(c, t, after, signal, true)) {
    switch (e.type) {
      case "status": {
        const s = String(e.data.status);
        if (s === "input_required") {
          const now = await v1<TaskView>(c, "GET", `/v1/tasks/${t.id}`);
          yield { payload: { $case: "statusUpdate", value: { taskId: t.id, contextId: ctxId, status: statusOf(now), metadata: undefined } } };
        } else if (s === "completed") {
          const result = (e.data.result as { text?: string } | undefined)?.text ?? "";
          yield {
            payload: {
              $case: "artifactUpdate",
              value: { taskId: t.id, contextId: ctxId, artifact: resultArtifact(result), append: false, lastChunk: true, metadata: undefined },
            },
          };
          yield status(TaskState.TASK_STATE_COMPLETED, [text(result)]);
        } else if (s === "failed") {
          const err = e.data.error as { code?: string; message?: string } | undefined;
          yield status(TaskState.TASK_STATE_FAILED, [text(err ? `${err.code}: ${err.message}` : "failed")]);
        } else yield status(toState(s, e.attempt));
        break;
      }
      case "text.delta":
        yield status(TaskState.TASK_STATE_WORKING, [text(String(e.data.delta ?? ""))]);
        break;
      case "tool.call":
      case "tool.result":
      case "approval.decided":
        yield status(TaskState.TASK_STATE_WORKING, [data({ event: e.type, ...e.data })]);
        break;
      default:
        break;
    }
  }
}

/** Turns the text/data parts of a follow-up message into answers for the task's waiting calls. */
async function answerWaiting(c: A2aCall, t: TaskView, message: Message): Promise<void> {
  const waiting = (t.pending?.calls ?? []).filter((x) => x.kind !== "run" && x.answer === null);
  if (waiting.length === 0) throw new UnsupportedOperationError(`task ${t.id} is ${t.status}; it waits for no input`);
  const said = message.parts
    .map((p) => (p.content?.$case === "text" ? p.content.value : ""))
    .join("")
    .trim();
  const given = message.parts.flatMap((p) => (p.content?.$case === "data" ? [p.content.value as unknown] : []));
  const explicit = new Map<string, Record<string, unknown>>();
  for (const d of given.flatMap((v) => (Array.isArray(v) ? v : [v]))) {
    if (d && typeof d === "object" && typeof (d as { call_id?: unknown }).call_id === "string")
      explicit.set((d as { call_id: string }).call_id, d as Record<string, unknown>);
  }
  for (const call of waiting) {
    const d = explicit.get(call.call_id);
    if (call.kind === "approval") {
      let decision: "approve" | "reject";
      let reason: string | undefined;
      if (d && (d.decision === "approve" || d.decision === "reject")) {
        decision = d.decision;
        reason = typeof d.reason === "string" ? d.reason : undefined;
      } else if (/^(y|yes|ok|approve|approved)\b/i.test(said)) decision = "approve";
      else if (/^(n|no|reject|rejected|deny)\b/i.test(said)) {
        decision = "reject";
        reason = said.replace(/^\S+\s*/, "") || undefined;
      } else throw new RequestMalformedError(`call ${call.call_id} (${call.tool}) needs an approval: reply "approve" or "reject <reason>"`);
      await v1(c, "POST", `/v1/tasks/${t.id}/approvals`, { call_id: call.call_id, decision, ...(reason ? { reason } : {}) });
    } else {
      let body: Record<string, unknown>;
      if (d && ("result" in d || "error" in d)) body = { call_id: call.call_id, ...("error" in d ? { error: d.error } : { result: d.result }) };
      else if (said) {
        let result: unknown = said;
        try {
          result = JSON.parse(said);
        } catch {
          /* plain text is the result */
        }
        body = { call_id: call.call_id, result };
      } else throw new RequestMalformedError(`call ${call.call_id} (${call.tool}) waits for its result: send it as text or a data part {call_id, result}`);
      await v1(c, "POST", `/v1/tasks/${t.id}/tool-results`, body);
    }
  }
}

function inputText(message: Message | undefined): string {
  if (!message) throw new RequestMalformedError("params.message is required");
  const s = message.parts
    .map((p) => (p.content?.$case === "text" ? p.content.value : p.content?.$case === "data" ? JSON.stringify(p.content.value) : ""))
    .join("");
  if (!s) throw new RequestMalformedError("the message has no text or data part");
  return s;
}

export function agentCard(agent: { name: string; description?: string }, url: string, secured: boolean): AgentCard {
  return {
    name: agent.name,
    description: agent.description || `Switchyard agent ${agent.name}`,
    supportedInterfaces: [{ url, protocolBinding: "JSONRPC", tenant: "", protocolVersion: "1.0" }],
    provider: { organization: "Switchyard", url: "" },
    version: "1.0.0",
    capabilities: { streaming: true, pushNotifications: false, extensions: [], extendedAgentCard: false },
    securitySchemes: secured
      ? { bearer: { scheme: { $case: "httpAuthSecurityScheme", value: { description: "Switchyard API key", scheme: "Bearer", bearerFormat: "" } } } }
      : {},
    securityRequirements: secured ? [{ schemes: { bearer: { list: [] } } }] : [],
    defaultInputModes: ["text/plain", "application/json"],
    defaultOutputModes: ["text/plain", "application/json"],
    skills: [
      {
        id: agent.name,
        name: agent.name,
        description: agent.description || "",
        tags: ["switchyard"],
        examples: [],
        inputModes: [],
        outputModes: [],
        securityRequirements: [],
      },
    ],
    signatures: [],
  } as AgentCard;
}

/** The request handler for one call to one agent. */
export function a2aHandler(c: A2aCall, card: AgentCard): A2ARequestHandler {
  const load = async (id: string): Promise<TaskView> => {
    try {
      const t = await v1<TaskView>(c, "GET", `/v1/tasks/${encodeURIComponent(id)}`);
      if (t.agent !== c.agent) throw new TaskNotFoundError(`no task ${id} of agent ${c.agent}`);
      return t;
    } catch (err) {
      if (err instanceof V1Error && (err.status === 404 || err.status === 400)) throw new TaskNotFoundError(`no task ${id}`);
      throw err;
    }
  };

  /** Submits the message as a task, or answers the waiting task it names; returns the task and where its new events start. */
  const start = async (message: Message | undefined): Promise<{ task: TaskView; after: number }> => {
    if (message?.taskId) {
      const t = await load(message.taskId);
      if (t.status !== "input_required") {
        if (TERMINAL.has(t.status)) throw new UnsupportedOperationError(`task ${t.id} is ${t.status}; start a new task without taskId`);
        throw new UnsupportedOperationError(`task ${t.id} is ${t.status}, not waiting for input`);
      }
      const after = await lastSeq(c, t);
      await answerWaiting(c, t, message);
      return { task: t, after };
    }
    const input = inputText(message);
    const m = message as Message;
    const submitted = await v1<{ id: string }>(
      c,
      "POST",
      "/v1/tasks",
      { agent: c.agent, input, metadata: { a2a_message_id: m.messageId, ...(m.contextId ? { a2a_context_id: m.contextId } : {}) } },
      m.messageId ? { "idempotency-key": `a2a:${m.messageId}`.slice(0, 256) } : {},
    );
    return { task: await load(submitted.id), after: 0 };
  };

  const unsupported = async (): Promise<never> => {
    throw new UnsupportedOperationError("push notifications are not supported; use message/stream or tasks/subscribe");
  };

  return {
    getAgentCard: async () => card,
    getAuthenticatedExtendedAgentCard: async () => card,
    async sendMessage(params) {
      const { task, after } = await start(params.message);
      if (params.configuration?.returnImmediately) return toA2aTask(await load(task.id));
      // Blocking: until the task ends or waits for input.
      const ac = new AbortController();
      try {
        for await (const _ of taskEvents(c, task, after, ac.signal, true)) {
          /* only waiting for the end */
        }
      } finally {
        ac.abort();
      }
      return toA2aTask(await load(task.id));
    },
    async *sendMessageStream(params) {
      const { task, after } = await start(params.message);
      yield { payload: { $case: "task", value: toA2aTask(task) } };
      const ac = new AbortController();
      try {
        yield* streamTask(c, task, after, ac.signal);
      } finally {
        ac.abort();
      }
    },
    async getTask(params) {
      return toA2aTask(await load(params.id));
    },
    async cancelTask(params) {
      const t = await load(params.id);
      if (TERMINAL.has(t.status)) throw new TaskNotCancelableError(`task ${t.id} is already ${t.status}`);
      await v1(c, "POST", `/v1/tasks/${t.id}/cancel`, {});
      // Give the kernel a moment so the answer usually shows `canceled`; the stream tells the rest.
      const deadline = Date.now() + 5000;
      let now = await load(t.id);
      while (!TERMINAL.has(now.status) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        now = await load(t.id);
      }
      return toA2aTask(now);
    },
    async *resubscribe(params) {
      const first = await load(params.id);
      // The newest seq before the snapshot: what happens after it is streamed (a status may come twice, none is lost).
      const after = await lastSeq(c, first);
      const t = await load(params.id);
      yield { payload: { $case: "task", value: toA2aTask(t) } };
      if (TERMINAL.has(t.status) || t.status === "input_required") return;
      const ac = new AbortController();
      try {
        yield* streamTask(c, t, after, ac.signal);
      } finally {
        ac.abort();
      }
    },
    async listTasks() {
      throw new UnsupportedOperationError("tasks/list is not supported here; use GET /v1/tasks");
    },
    createTaskPushNotificationConfig: unsupported,
    getTaskPushNotificationConfig: unsupported,
    listTaskPushNotificationConfigs: unsupported,
    deleteTaskPushNotificationConfig: unsupported,
  };
}

export { V1Error };
