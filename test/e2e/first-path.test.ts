// The first end-to-end path over real processes: NATS, Redis and the four services started
// as separate processes; every check goes through HTTP, SSE, NATS or Redis as a user would.
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { redisKeys } from "@switchyard/contracts";
import { type Fleet, startFleet } from "@switchyard/devkit";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, http } from "../src/http.ts";
import { openStream, type ReceivedEvent, readStream } from "../src/sse.ts";
import { expectSubsequence, submit as submitTask } from "../src/support.ts";

let fleet: Fleet;
let G: string;

const hello = {
  model: "scripted",
  tools: ["echo"],
  script: [{ text: "Looking that up for you, one moment please.", tool: { name: "echo", args: { q: "{{input}}" } } }, { text: "Done: {{input}}" }],
};
// Three rounds of 400 ms tool sleeps: long enough to join, disconnect and cancel mid-run.
const slow = {
  model: "scripted",
  tools: ["sleep"],
  script: [
    { text: "first step", tool: { name: "sleep", args: { ms: 400 } } },
    { text: "second step", tool: { name: "sleep", args: { ms: 400 } } },
    { text: "third step", tool: { name: "sleep", args: { ms: 400 } } },
    { text: "finished {{input}}" },
  ],
};
// Fails in round 2 on attempt 1 only; the kernel retries from the round-1 checkpoint.
const flaky = {
  model: "scripted",
  tools: ["echo"],
  retry: { max_attempts: 3, initial_backoff_ms: 100, max_backoff_ms: 200 },
  script: [
    { text: "round one", tool: { name: "echo", args: { n: 1 } } },
    { fail: { message: "rate limited", retryable: true }, on_attempts: [1] },
    { text: "recovered" },
  ],
};
const broken = { model: "scripted", script: [{ fail: { message: "bad request to the model", retryable: false } }, { text: "never" }] };
// Echoes its input in three rounds: the round-3 checkpoint holds the input and three results.
// Then it waits, so that checkpoint is handled while the run is still going.
const echoInput = { tool: { name: "echo", args: { a: "{{input}}" } } };
const bulky = {
  model: "scripted",
  tools: ["echo", "sleep"],
  script: [echoInput, echoInput, echoInput, { tool: { name: "sleep", args: { ms: 5000 } } }, { text: "done" }],
};
const sleepy = { model: "scripted", tools: ["sleep"], script: [{ text: "napping", tool: { name: "sleep", args: { ms: 20_000 } } }, { text: "awake" }] };

const submit = (agent: string, input: unknown = "hi", extra: Record<string, unknown> = {}) => submitTask(G, agent, input, extra);
const eventsUrl = (id: string, q = "") => `${G}/v1/tasks/${id}/events${q}`;
const seqs = (evs: ReceivedEvent[]) => evs.map((e) => e.id);

const label = (e: ReceivedEvent) => (e.type === "status" ? `status:${String(e.data.data.status)}` : e.type);

beforeAll(async () => {
  fleet = await startFleet({ runnerNodes: 1, env: { LOG_LEVEL: "info" } });
  G = fleet.gatewayUrl;
  for (const [name, def] of Object.entries({
    "e2e-hello": { ...hello, executor_overrides: ["nobody-serves-this"] },
    "e2e-slow": slow,
    "e2e-sleepy": sleepy,
    "e2e-flaky": flaky,
    "e2e-broken": broken,
    "e2e-bulky": bulky,
  })) {
    const res = await http("PUT", `${G}/v1/agents/${name}`, def);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  }
});

afterAll(async () => {
  await fleet?.stop();
});

describe("submit → run → stream", () => {
  it("streams every event in order, with strictly increasing seq, ending in completed", async () => {
    const id = await submit("e2e-hello", "the moon");
    const events = await readStream(eventsUrl(id));
    const types = events.map(label);
    expectSubsequence(types, ["status:running", "text.delta", "tool.call", "tool.result", "message", "usage", "status:completed"]);
    expect(types.at(-1)).toBe("status:completed");
    for (let i = 1; i < events.length; i++) expect(events[i]!.id).toBeGreaterThan(events[i - 1]!.id);
    for (const e of events) {
      expect(e.data.seq).toBe(e.id);
      expect(e.data.task_id).toBe(id);
      expect(e.data.type).toBe(e.type);
    }
    const deltas = events.filter((e) => e.type === "text.delta").map((e) => String(e.data.data.delta));
    expect(deltas.length).toBeGreaterThan(2);
    expect(deltas.join("")).toBe("Looking that up for you, one moment please.Done: the moon");
    const toolResult = events.find((e) => e.type === "tool.result")!;
    expect(toolResult.data.data.result).toEqual({ q: "the moon" });

    const task = await http("GET", `${G}/v1/tasks/${id}`);
    expect(task.status).toBe(200);
    expect(task.body.status).toBe("completed");
    expect(task.body.result).toEqual({ text: "Done: the moon" });
    expect(task.body.usage.total_tokens).toBeGreaterThan(0);
  });

  it("accepts a conversation as input and substitutes the last user message", async () => {
    const id = await submit("e2e-hello", [
      { role: "user", content: "first" },
      { role: "assistant", content: "ok" },
      { role: "user", content: "second" },
    ]);
    const events = await readStream(eventsUrl(id));
    expect(events.at(-1)!.data.data).toMatchObject({ status: "completed", result: { text: "Done: second" } });
  });

  it("gives a client that joins mid-run the full history, then the live tail", async () => {
    const id = await submit("e2e-slow", "late");
    const first = openStream(eventsUrl(id));
    await first.waitFor((e) => e.type === "tool.result");
    const joinedAt = Date.now();
    const late = openStream(eventsUrl(id));
    const [a, b] = await Promise.all([first.done, late.done]);
    expect(b.at(-1)!.data.data.status).toBe("completed");
    expect(seqs(b)).toEqual(seqs(a));
    expect(b.map((e) => e.data)).toEqual(a.map((e) => e.data));
    // It really joined mid-run: part of what it got had happened before it connected.
    expect(b.some((e) => Date.parse(e.data.ts) < joinedAt)).toBe(true);
    expect(b.some((e) => Date.parse(e.data.ts) > joinedAt)).toBe(true);
  });

  it("resumes after Last-Event-ID or ?after= with no gap and no duplicate", async () => {
    const id = await submit("e2e-hello", "resume");
    const full = await readStream(eventsUrl(id));
    expect(full.length).toBeGreaterThan(6);
    for (const n of [full[0]!.id, full[3]!.id, full.at(-2)!.id]) {
      const want = seqs(full).filter((s) => s > n);
      expect(seqs(await readStream(eventsUrl(id), { "last-event-id": String(n) }))).toEqual(want);
      expect(seqs(await readStream(eventsUrl(id, `?after=${n}`)))).toEqual(want);
    }
    // After the terminal event there is nothing more, and the stream ends at once.
    expect(await readStream(eventsUrl(id), { "last-event-id": String(full.at(-1)!.id) })).toEqual([]);
  });

  it("resumes a live stream after a disconnect mid-run", async () => {
    const id = await submit("e2e-slow", "reconnect");
    const s1 = openStream(eventsUrl(id));
    await s1.waitFor((e) => e.type === "tool.call");
    s1.close();
    await s1.done;
    const got1 = [...s1.events];
    const lastId = got1.at(-1)!.id;
    const got2 = await readStream(eventsUrl(id), { "last-event-id": String(lastId) });
    expect(got2.at(-1)!.data.data.status).toBe("completed");
    const full = await readStream(eventsUrl(id));
    expect([...seqs(got1), ...seqs(got2)]).toEqual(seqs(full));
  });
});

describe("failures and retries (decided by the kernel)", () => {
  it("retries a retryable failure as a new attempt that resumes after the last checkpoint", async () => {
    const id = await submit("e2e-flaky", "x");
    const events = await readStream(eventsUrl(id));
    const statuses = events.filter((e) => e.type === "status").map((e) => `${String(e.data.data.status)}#${e.data.attempt}`);
    expect(statuses).toEqual(["queued#1", "running#1", "queued#2", "running#2", "completed#2"]);
    const retryQueued = events.find((e) => e.type === "status" && e.data.data.status === "queued" && e.data.attempt === 2)!;
    expect(retryQueued.data.data.error).toMatchObject({ code: "model_error", message: "rate limited", retryable: true });
    expect(events.find((e) => e.type === "error")!.data.attempt).toBe(1);
    // Round 1 (with its tool call) ran once; attempt 2 started at round 2.
    expect(events.filter((e) => e.type === "tool.call")).toHaveLength(1);
    expect(events.filter((e) => e.type === "step.start" && e.data.attempt === 2).map((e) => e.data.data.round)).toEqual([2]);
    const runIds = new Set(events.filter((e) => e.data.run_id).map((e) => e.data.run_id));
    expect(runIds.size).toBe(2);
    const task = (await http("GET", `${G}/v1/tasks/${id}`)).body;
    expect(task).toMatchObject({ status: "completed", attempt: 2, result: { text: "recovered" } });
  });

  it("fails at once on a non-retryable failure, with the error in the task and the stream", async () => {
    const id = await submit("e2e-broken", "x");
    const events = await readStream(eventsUrl(id));
    expect(events.map(label)).toEqual(["status:queued", "status:running", "step.start", "error", "status:failed"]);
    const error = { code: "model_error", message: "bad request to the model", retryable: false };
    expect(events.at(-1)!.data.data.error).toEqual(error);
    const task = (await http("GET", `${G}/v1/tasks/${id}`)).body;
    expect(task).toMatchObject({ status: "failed", attempt: 1, error, result: null });
  });

  it("fails a task whose record would exceed NATS max_payload with task_too_large, once, instead of re-running it", async () => {
    // Each report fits in a NATS message, but input + checkpoint in the task record does not.
    // The write used to fail and be redelivered forever while the run was lost and re-run.
    const id = await submit("e2e-bulky", "b".repeat(210 * 1024)); // round-3 checkpoint ~860 KB, record ~1.07 MB
    const events = await readStream(eventsUrl(id));
    const statuses = events.filter((e) => e.type === "status").map(label);
    expect(statuses, JSON.stringify(events.at(-1)?.data.data)).toEqual(["status:queued", "status:running", "status:failed"]);
    expect(events.at(-1)!.data.data.error).toMatchObject({ code: "task_too_large", retryable: false });
    const task = (await http("GET", `${G}/v1/tasks/${id}`)).body;
    expect(task).toMatchObject({ status: "failed", attempt: 1, error: { code: "task_too_large" } });
  });
});

describe("cancel", () => {
  it("cancels a queued task that no runner serves, without any runner", async () => {
    const id = await submit("e2e-hello", "x", { executor: { type: "remote", runner: { kind: "nobody-serves-this", config: {} } } });
    await eventually(async () => (await http("GET", `${G}/v1/tasks/${id}`)).body.status === "queued", 5000, "queued");
    const res = await http("POST", `${G}/v1/tasks/${id}/cancel`);
    expect(res.status).toBe(202);
    const events = await readStream(eventsUrl(id));
    expect(events.map(label)).toEqual(["status:queued", "status:canceled"]);
    const task = await http("GET", `${G}/v1/tasks/${id}`);
    expect(task.body.status).toBe("canceled");
    expect(task.body.error.code).toBe("canceled");
    // A second cancel is refused: the task is terminal.
    const again = await http("POST", `${G}/v1/tasks/${id}/cancel`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("task_terminal");
  });

  it("aborts a running task on its runner and ends the stream with canceled", async () => {
    const id = await submit("e2e-sleepy", "zzz");
    const stream = openStream(eventsUrl(id));
    await stream.waitFor((e) => e.type === "tool.call");
    const runner = fleet.services.runners[0]!;
    const t0 = Date.now();
    expect((await http("POST", `${G}/v1/tasks/${id}/cancel`, { reason: "user gave up" })).status).toBe(202);
    await runner.waitForLog((l) => l.msg === "run aborted" && l.task_id === id, 5000);
    const abortMs = Date.now() - t0;
    console.log(`[cancel] running task aborted on its runner ${abortMs} ms after POST /cancel`);
    const events = await stream.done;
    expect(events.at(-1)!.data.data).toMatchObject({ status: "canceled", error: { code: "canceled", message: "user gave up" } });
    expect(events.some((e) => e.type === "tool.result")).toBe(false);
    // The 20 s tool was cut short: the runner slot is free again and the task stays canceled.
    const task = await http("GET", `${G}/v1/tasks/${id}`);
    expect(task.body.status).toBe("canceled");
    expect(task.body.result).toBeNull();
  });
});

describe("bad input", () => {
  it("answers an unknown agent with 404", async () => {
    const res = await http("POST", `${G}/v1/tasks`, { agent: "no-such-agent", input: "x" });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe("agent_not_found");
  });

  it("answers a malformed body with 400 naming the field", async () => {
    const cases: [unknown, string][] = [
      [{ input: "x" }, "agent"],
      [{ agent: "e2e-hello" }, "input"],
      [{ agent: "e2e-hello", input: 42 }, "input"],
      [{ agent: "Not A Slug", input: "x" }, "agent"],
      [{ agent: "e2e-hello", input: "x", executor: { type: "remote", runner: {} } }, "executor"],
      [{ agent: "e2e-hello", input: "x", surprise: true }, "surprise"],
      [{ agent: "e2e-hello", input: [{ role: "robot", content: "x" }] }, "input"],
    ];
    for (const [body, field] of cases) {
      const res = await http("POST", `${G}/v1/tasks`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe("bad_request");
      expect(res.body.error.message, JSON.stringify(res.body)).toContain(field);
    }
    const notJson = await http("POST", `${G}/v1/tasks`, '{"agent":');
    expect(notJson.status).toBe(400);
    expect(notJson.body.error.message).toMatch(/JSON/);
  });

  it("answers an unknown task with 404 and a malformed id with 400", async () => {
    const unknown = "01a201a7-9eed-72ff-9d64-000000000000";
    for (const [method, path] of [
      ["GET", `/v1/tasks/${unknown}`],
      ["GET", `/v1/tasks/${unknown}/events`],
      ["POST", `/v1/tasks/${unknown}/cancel`],
    ] as const) {
      const res = await http(method, `${G}${path}`);
      expect(res.status, path).toBe(404);
      expect(res.body.error.code).toBe("task_not_found");
    }
    const bad = await http("GET", `${G}/v1/tasks/not-a-task-id`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain("task id");
  });
});

describe("state outside the API", () => {
  let nc: NatsConnection;
  let redis: Redis;
  beforeAll(async () => {
    nc = await connect({ servers: fleet.natsUrl });
    redis = new Redis(fleet.redisUrl);
  });
  afterAll(async () => {
    await nc?.close();
    redis?.disconnect();
  });

  it("keeps the replay cache in Redis during a run, and the events in JetStream afterwards", async () => {
    const id = await submit("e2e-slow", "cache");
    const stream = openStream(eventsUrl(id));
    await stream.waitFor((e) => e.type === "tool.call" && e.data.data.round === 2);
    const task = (await http("GET", `${G}/v1/tasks/${id}`)).body;
    const cache = await eventually(
      async () => {
        const h = await redis.hgetall(redisKeys.run(id));
        return h.last_tool_name ? h : null;
      },
      5000,
      "replay cache",
    );
    expect(cache).toMatchObject({ status: "running", run_id: task.run_id, node_id: "runner-1", last_tool_name: "sleep", last_tool_phase: "begin" });
    for (const f of ["started_at", "last_event_at", "round_count", "last_usage"]) expect(cache[f], f).toBeTruthy();
    expect(Number(cache.round_count)).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(cache.last_usage!).total_tokens).toBeGreaterThan(0);
    const ring = (await redis.lrange(redisKeys.runCritical(id), 0, -1)).map((s) => JSON.parse(s));
    expect(ring.length).toBeGreaterThan(0);
    expect(ring.length).toBeLessThanOrEqual(32);
    expect(await redis.get(redisKeys.lease(id))).toBe(task.run_id);
    // The API shows the live fields while it runs.
    expect(task.live).toMatchObject({ node_id: "runner-1", run_id: task.run_id });

    const sse = await stream.done;
    expect(sse.at(-1)!.data.data.status).toBe("completed");
    // The runner gives its lease back after its report; the kernel's terminal event may come first.
    await eventually(async () => (await redis.get(redisKeys.lease(id))) === null, 10_000, "the lease to be released");

    // A plain NATS consumer reads the same events by subject, with the same sequence numbers.
    const js = jetstream(nc);
    const consumer = await js.consumers.get("SY_EVENTS", { filter_subjects: `sy.events.*.*.${id}`, deliver_policy: DeliverPolicy.All });
    const fromNats: { seq: number; subject: string; type: string }[] = [];
    const batch = await consumer.fetch({ max_messages: sse.length, expires: 5000 });
    for await (const m of batch) fromNats.push({ seq: m.seq, subject: m.subject, type: (m.json() as { type: string }).type });
    expect(fromNats.map((m) => m.seq)).toEqual(seqs(sse));
    expect(fromNats.map((m) => m.type)).toEqual(sse.map((e) => e.type));
    expect(new Set(fromNats.map((m) => m.subject))).toEqual(new Set([`sy.events.default.e2e-slow.${id}`]));
  });
});

describe("catalog, runners, idempotency, health", () => {
  it("manages agents: invalid definitions are refused with the reason", async () => {
    const bad = await http("PUT", `${G}/v1/agents/e2e-bad`, { model: "scripted" });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("invalid_agent");
    expect(bad.body.error.message).toContain("script");
    const badLimits = await http("PUT", `${G}/v1/agents/e2e-bad`, { ...hello, limits: { max_rounds: 0 } });
    expect(badLimits.status).toBe(400);
    expect(badLimits.body.error.message).toContain("limits.max_rounds");

    const put = await http("PUT", `${G}/v1/agents/e2e-temp`, { ...hello, description: "temporary" });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ name: "e2e-temp", kind: "llm", executor: { type: "local" } });
    expect((await http("GET", `${G}/v1/agents/e2e-temp`)).body.description).toBe("temporary");
    const list = await http("GET", `${G}/v1/agents`);
    expect(list.body.items.map((a: { name: string }) => a.name)).toEqual(expect.arrayContaining(["e2e-temp", "e2e-hello", "hello"]));
    expect((await http("DELETE", `${G}/v1/agents/e2e-temp`)).status).toBe(200);
    expect((await http("GET", `${G}/v1/agents/e2e-temp`)).status).toBe(404);
    expect((await http("POST", `${G}/v1/tasks`, { agent: "e2e-temp", input: "x" })).status).toBe(404);
  });

  it("lists live runner nodes with their kinds and slots", async () => {
    const res = await http("GET", `${G}/v1/runners`);
    expect(res.status).toBe(200);
    const node = res.body.items.find((n: { id: string }) => n.id === "runner-1");
    expect(node).toMatchObject({ kinds: ["local"], draining: false });
    expect(node.slots.total).toBe(node.slots.used + node.slots.free);
  });

  it("returns the same task for the same Idempotency-Key", async () => {
    const key = `e2e-${Date.now()}`;
    const a = await http("POST", `${G}/v1/tasks`, { agent: "e2e-hello", input: "once" }, { "idempotency-key": key });
    const b = await http("POST", `${G}/v1/tasks`, { agent: "e2e-hello", input: "once" }, { "idempotency-key": key });
    expect(a.status).toBe(202);
    expect(b.status).toBe(202);
    expect(b.body.id).toBe(a.body.id);
    expect(a.body.duplicate).toBe(false);
    expect(b.body.duplicate).toBe(true);
    await readStream(eventsUrl(a.body.id));
    const page = await http("GET", `${G}/v1/tasks?agent=e2e-hello&limit=500`);
    expect(page.body.items.filter((t: { input: string }) => t.input === "once")).toHaveLength(1);
  });

  it("lists tasks newest first with filters and a cursor", async () => {
    const ids = [await submit("e2e-hello", "p1"), await submit("e2e-hello", "p2"), await submit("e2e-hello", "p3")];
    for (const id of ids) await readStream(eventsUrl(id));
    const p1 = await http("GET", `${G}/v1/tasks?agent=e2e-hello&status=completed&limit=2`);
    expect(p1.status).toBe(200);
    expect(p1.body.items.map((t: { id: string }) => t.id)).toEqual([ids[2], ids[1]]);
    const p2 = await http("GET", `${G}/v1/tasks?agent=e2e-hello&status=completed&limit=1&cursor=${p1.body.next_cursor}`);
    expect(p2.body.items[0].id).toBe(ids[0]);
    const bad = await http("GET", `${G}/v1/tasks?status=bogus`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain("status");
  });

  it("reports health and readiness", async () => {
    expect((await http("GET", `${G}/healthz`)).status).toBe(200);
    const ready = await http("GET", `${G}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.body.checks).toEqual({ nats: "ok", redis: "ok" });
  });
});
