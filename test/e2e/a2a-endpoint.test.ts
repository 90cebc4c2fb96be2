// The gateway as an A2A v1.0 server: every agent at /a2a/<agent>. Driven with @a2a-js/sdk's
// client (card, message send and stream, get, cancel, resubscribe, input-required answered by a
// follow-up message), and by federation: fleet B's `a2a` runner kind runs fleet A's agents end
// to end, a cancel on B included.
import { type Message, Role, type StreamResponse, type Task, TaskState } from "@a2a-js/sdk";
import { type Client, ClientFactory } from "@a2a-js/sdk/client";
import { type Fleet, startFleet } from "@switchyard/devkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { http } from "../src/http.ts";
import { readStream } from "../src/sse.ts";
import { eventsUrl, putAgents, statusTrail, submit, waitForTask } from "../src/support.ts";

let A: Fleet;
let B: Fleet;
let GA: string;
let GB: string;

const AGENTS_A = {
  "fed-hello": {
    model: "scripted",
    description: "Says hello.",
    tools: ["echo"],
    script: [{ text: "Hi! ", tool: { name: "echo", args: { q: "{{input}}" } } }, { text: "Hello, {{input}}." }],
  },
  "fed-pay": {
    model: "scripted",
    tools: ["payments.charge"],
    approval: { policy: "pattern", tools: ["payments.*"] },
    script: [{ text: "Charging.", tool: { name: "payments.charge", args: { amount: 42 } } }, { text: "Paid for {{input}}." }],
  },
  "fed-ext": {
    model: "scripted",
    tools: [{ name: "lookup", external: true, parameters: { type: "object" } }],
    script: [{ text: "Looking up.", tool: { name: "lookup", args: { q: "{{input}}" } } }, { text: "Found it." }],
  },
  "fed-slow": { model: "scripted", tools: ["sleep"], script: [{ text: "zzz", tool: { name: "sleep", args: { ms: 60_000 } } }, { text: "woke" }] },
  "fed-steps": {
    model: "scripted",
    tools: ["sleep"],
    script: [
      { text: "one", tool: { name: "sleep", args: { ms: 800 } } },
      { text: "two", tool: { name: "sleep", args: { ms: 800 } } },
      { text: "three {{input}}" },
    ],
  },
};

const userMessage = (value: string, taskId = ""): Message => ({
  messageId: crypto.randomUUID(),
  contextId: "",
  taskId,
  role: Role.ROLE_USER,
  parts: [{ content: { $case: "text", value }, metadata: undefined, filename: "", mediaType: "text/plain" }],
  metadata: undefined,
  extensions: [],
  referenceTaskIds: [],
});
const send = (value: string, taskId = "") => ({ tenant: "", message: userMessage(value, taskId), configuration: undefined, metadata: undefined });
const client = (agent: string): Promise<Client> => new ClientFactory().createFromUrl(`${GA}/a2a/${agent}/`);
const stateOf = (r: StreamResponse): TaskState | undefined =>
  r.payload?.$case === "task" ? r.payload.value.status?.state : r.payload?.$case === "statusUpdate" ? r.payload.value.status?.state : undefined;
const taskIdOf = (r: StreamResponse): string =>
  r.payload?.$case === "task" ? r.payload.value.id : r.payload?.$case === "statusUpdate" || r.payload?.$case === "artifactUpdate" ? r.payload.value.taskId : "";
async function collect(stream: AsyncGenerator<StreamResponse>): Promise<StreamResponse[]> {
  const out: StreamResponse[] = [];
  for await (const r of stream) out.push(r);
  return out;
}
const textOf = (t: Task): string => t.artifacts.flatMap((a) => a.parts.map((p) => (p.content?.$case === "text" ? p.content.value : ""))).join("");

beforeAll(async () => {
  [A, B] = await Promise.all([
    startFleet(),
    // Fleet B runs remote agents only; loopback egress allowed for the a2a kind.
    startFleet({ runnerEnv: { RUNNER_KINDS: "a2a", EGRESS_ALLOW: "127.0.0.1" } }),
  ]);
  GA = A.gatewayUrl;
  GB = B.gatewayUrl;
  await putAgents(GA, AGENTS_A);
});

afterAll(async () => {
  await Promise.all([A?.stop(), B?.stop()]);
});

describe("A2A endpoint, with the SDK's client", () => {
  it("serves each agent's card, naming its JSON-RPC URL; an unknown agent is 404", async () => {
    const res = await http("GET", `${GA}/a2a/fed-hello/.well-known/agent-card.json`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: "fed-hello", description: "Says hello.", capabilities: { streaming: true } });
    expect(res.body.supportedInterfaces[0]).toMatchObject({ url: `${GA}/a2a/fed-hello`, protocolBinding: "JSONRPC", protocolVersion: "1.0" });
    const missing = await http("GET", `${GA}/a2a/nobody/.well-known/agent-card.json`);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("agent_not_found");
  });

  it("message/send blocks until the task completes and returns it with its result artifact", async () => {
    const c = await client("fed-hello");
    const out = await c.sendMessage(send("Ada"));
    expect("status" in out).toBe(true);
    const task = out as Task;
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(textOf(task)).toBe("Hello, Ada.");
    // It is a Switchyard task like any other.
    const v1 = await http("GET", `${GA}/v1/tasks/${task.id}`);
    expect(v1.body).toMatchObject({ agent: "fed-hello", status: "completed", result: { text: "Hello, Ada." } });
    const again = await c.getTask({ tenant: "", id: task.id });
    expect(again.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
  });

  it("message/stream streams task, working updates, the result artifact and completed", async () => {
    const c = await client("fed-hello");
    const events = await collect(c.sendMessageStream(send("Bo")));
    expect(events[0]?.payload?.$case).toBe("task");
    const states = events.map(stateOf).filter((s) => s !== undefined);
    expect(states).toContain(TaskState.TASK_STATE_WORKING);
    expect(states.at(-1)).toBe(TaskState.TASK_STATE_COMPLETED);
    const artifact = events.find((e) => e.payload?.$case === "artifactUpdate");
    expect(artifact?.payload?.$case === "artifactUpdate" && artifact.payload.value.artifact?.parts[0]?.content).toEqual({ $case: "text", value: "Hello, Bo." });
  });

  it("an approval is input-required; a follow-up message 'approve' resumes the task", async () => {
    const c = await client("fed-pay");
    const first = await collect(c.sendMessageStream(send("order 5")));
    expect(stateOf(first.at(-1) as StreamResponse)).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
    const id = taskIdOf(first[0] as StreamResponse);
    const rest = await collect(c.sendMessageStream(send("approve", id)));
    expect(stateOf(rest.at(-1) as StreamResponse)).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(rest.every((r) => taskIdOf(r) === id)).toBe(true);
    const v1 = await http("GET", `${GA}/v1/tasks/${id}`);
    expect(v1.body.result.text).toBe("Paid for order 5.");
  });

  it("an external tool is input-required; a follow-up message carries its result", async () => {
    const c = await client("fed-ext");
    const parked = (await c.sendMessage(send("thing"))) as Task;
    expect(parked.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
    const done = (await c.sendMessage(send('{"found":true}', parked.id))) as Task;
    expect(done.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(textOf(done)).toBe("Found it.");
    const v1 = await http("GET", `${GA}/v1/tasks/${parked.id}`);
    expect(v1.body.status).toBe("completed");
  });

  it("tasks/cancel cancels the Switchyard task; resubscribe follows a running task to its end", async () => {
    const c = await client("fed-slow");
    const started = (await c.sendMessage({
      ...send("x"),
      configuration: { acceptedOutputModes: [], taskPushNotificationConfig: undefined, returnImmediately: true },
    })) as Task;
    await waitForTask(GA, started.id, (t) => t.status === "running", 20_000, "running");
    const canceled = await c.cancelTask({ tenant: "", id: started.id, metadata: undefined });
    expect(canceled.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    expect((await http("GET", `${GA}/v1/tasks/${started.id}`)).body.status).toBe("canceled");

    const s = await client("fed-steps");
    const bg = (await s.sendMessage({
      ...send("r"),
      configuration: { acceptedOutputModes: [], taskPushNotificationConfig: undefined, returnImmediately: true },
    })) as Task;
    const sub = await collect(s.resubscribeTask({ tenant: "", id: bg.id }));
    expect(sub[0]?.payload?.$case).toBe("task");
    expect(stateOf(sub.at(-1) as StreamResponse)).toBe(TaskState.TASK_STATE_COMPLETED);
    const unknown = await s.getTask({ tenant: "", id: "0190a0a0-0000-7000-8000-000000000000" }).catch((e: unknown) => e);
    expect(String(unknown)).toMatch(/TaskNotFound/);
  });
});

describe("A2A endpoint, hostile input", () => {
  it("answers malformed JSON-RPC with a JSON-RPC error or a 4xx, never a 5xx", async () => {
    const bodies: unknown[] = [
      {},
      [],
      "null",
      { jsonrpc: "2.0", id: 1, method: "Nope" },
      { jsonrpc: "2.0", id: 2, method: "SendMessage", params: {} },
      { jsonrpc: "2.0", id: 3, method: "SendMessage", params: { message: { parts: [] } } },
      { jsonrpc: "2.0", id: 4, method: "GetTask", params: { id: "../../x" } },
      { jsonrpc: "2.0", id: 5, method: "CancelTask", params: { id: 7 } },
      { jsonrpc: "2.0", id: 6, method: "SubscribeToTask", params: { id: "0190a0a0-0000-7000-8000-000000000000" } },
    ];
    for (const b of bodies) {
      const res = await http("POST", `${GA}/a2a/fed-hello`, b, { "a2a-version": "1.0" });
      expect(res.status, JSON.stringify(b)).toBeLessThan(500);
      if (res.status === 200) expect(res.body?.error, `${JSON.stringify(b)} → ${JSON.stringify(res.body)}`).toBeDefined();
    }
    expect((await http("POST", `${GA}/a2a/Not_A_Slug`, { jsonrpc: "2.0", id: 1, method: "GetTask", params: { id: "x" } })).status).toBe(400);
  });
});

describe("federation: fleet B's a2a runner kind runs fleet A's agents", () => {
  const viaA = (agent: string) => ({ executor: { type: "remote", runner: { kind: "a2a", config: { url: `${GA}/a2a/${agent}/` } } } });

  it("runs an agent of fleet A end to end", async () => {
    await putAgents(GB, {
      proxy: {
        model: "scripted",
        script: [{ text: "unused" }],
        executor_overrides: ["a2a"],
        retry: { max_attempts: 1, initial_backoff_ms: 100, max_backoff_ms: 100 },
      },
    });
    const id = await submit(GB, "proxy", "federation", viaA("fed-hello"));
    const events = await readStream(eventsUrl(GB, id));
    expect(statusTrail(events)).toEqual(["queued#1", "running#1", "completed#1"]);
    const onB = (await http("GET", `${GB}/v1/tasks/${id}`)).body;
    expect(onB.result).toEqual({ text: "Hello, federation." });
    const remoteId = onB.runner_state.remote_task_id as string;
    const onA = (await http("GET", `${GA}/v1/tasks/${remoteId}`)).body;
    expect(onA).toMatchObject({ agent: "fed-hello", status: "completed", result: { text: "Hello, federation." } });
  });

  it("a cancel on fleet B cancels the task on fleet A", async () => {
    const id = await submit(GB, "proxy", "cancel me", viaA("fed-slow"));
    const running = await waitForTask(GB, id, (t) => typeof t.runner_state?.remote_task_id === "string", 30_000, "the remote task id");
    const remoteId = running.runner_state.remote_task_id as string;
    await waitForTask(GA, remoteId, (t) => t.status === "running", 20_000, "running on A");
    const res = await http("POST", `${GB}/v1/tasks/${id}/cancel`, { reason: "federated cancel" });
    expect(res.status).toBe(202);
    await waitForTask(GB, id, (t) => t.status === "canceled", 20_000, "canceled on B");
    await waitForTask(GA, remoteId, (t) => t.status === "canceled", 20_000, "canceled on A");
  });
});
