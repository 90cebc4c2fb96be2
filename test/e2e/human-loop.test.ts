// Humans and clients in the loop (issue 6), over real processes: approval policies decided by
// the kernel, external tools answered by the client, budgets, and racing answers. Every check
// goes through HTTP and SSE as a client would, plus Redis for "a parked task holds no slot".
import { redisKeys } from "@switchyard/contracts";
import { type Fleet, startFleet } from "@switchyard/devkit";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, http } from "../src/http.ts";
import { openStream, type ReceivedEvent, readStream, type SseStream } from "../src/sse.ts";
import { expectSubsequence, submit as submitTask } from "../src/support.ts";

let fleet: Fleet;
let G: string;
let redis: Redis;

const finalAnswer = { text: "Done: {{input}}" };
const AGENTS: Record<string, unknown> = {
  "hl-pay": {
    model: "scripted",
    tools: ["payments.charge", "echo"],
    approval: { policy: "pattern", tools: ["payments.*"] },
    script: [{ text: "Charging you now.", tool: { name: "payments.charge", args: { amount: 42, currency: "EUR" } } }, finalAnswer],
  },
  "hl-always": {
    model: "scripted",
    tools: ["echo"],
    approval: { policy: "always" },
    script: [{ text: "Echoing.", tool: { name: "echo", args: { q: "{{input}}" } } }, finalAnswer],
  },
  "hl-never": {
    model: "scripted",
    tools: ["payments.charge"],
    approval: { policy: "never" },
    script: [{ text: "Charging.", tool: { name: "payments.charge", args: { amount: 42 } } }, finalAnswer],
  },
  // One round, three calls: only the one above the limit waits; the others run on resume.
  "hl-threshold": {
    model: "scripted",
    tools: ["payments.charge", "echo"],
    approval: { policy: "threshold", tools: ["payments.*"], arg: "amount", limit: 100 },
    script: [
      {
        text: "Three calls.",
        tools: [
          { name: "payments.charge", args: { amount: 50 } },
          { name: "payments.charge", args: { amount: 500 } },
          { name: "echo", args: { amount: 5000 } },
        ],
      },
      finalAnswer,
    ],
  },
  // all: a payments tool AND above 100. Only the first call qualifies.
  "hl-composite": {
    model: "scripted",
    tools: ["payments.charge", "echo"],
    approval: {
      policy: "composite",
      mode: "all",
      policies: [
        { policy: "pattern", tools: ["payments.*"] },
        { policy: "threshold", arg: "amount", limit: 100 },
      ],
    },
    script: [
      {
        text: "Three calls.",
        tools: [
          { name: "payments.charge", args: { amount: 500 } },
          { name: "echo", args: { amount: 500 } },
          { name: "payments.charge", args: { amount: 50 } },
        ],
      },
      finalAnswer,
    ],
  },
  "hl-timeout-reject": {
    model: "scripted",
    tools: ["echo"],
    approval: { policy: "always", timeout_ms: 400, on_timeout: "reject" },
    script: [{ text: "Asking.", tool: { name: "echo", args: { q: "x" } } }, finalAnswer],
  },
  "hl-timeout-fail": {
    model: "scripted",
    tools: ["echo"],
    approval: { policy: "always", timeout_ms: 400, on_timeout: "fail" },
    script: [{ text: "Asking.", tool: { name: "echo", args: { q: "x" } } }, finalAnswer],
  },
  "hl-weather": {
    model: "scripted",
    tools: [
      {
        name: "get_weather",
        description: "Current weather of a city, looked up by the client",
        parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
        returns: {
          type: "object",
          properties: { temp_c: { type: "number" }, sky: { type: "string" } },
          required: ["temp_c"],
          additionalProperties: false,
        },
        external: true,
      },
    ],
    script: [{ text: "Let me check the weather.", tool: { name: "get_weather", args: { city: "{{input}}" } } }, finalAnswer],
  },
  // One round waits for a person and for the client at once.
  "hl-mixed": {
    model: "scripted",
    tools: ["echo", { name: "get_time", external: true }],
    approval: { policy: "pattern", tools: ["echo"] },
    script: [
      {
        text: "Both.",
        tools: [
          { name: "echo", args: { q: "x" } },
          { name: "get_time", args: {} },
        ],
      },
      finalAnswer,
    ],
  },
  "hl-sleepy": {
    model: "scripted",
    tools: ["sleep"],
    script: [{ text: "napping", tool: { name: "sleep", args: { ms: 3000 } } }, finalAnswer],
  },
  // Every round asks for a tool: only a budget ends it.
  "hl-rounds": {
    model: "scripted",
    tools: ["echo"],
    limits: { max_rounds: 4 },
    script: [
      { text: "one", tool: { name: "echo", args: { n: 1 } } },
      { text: "two", tool: { name: "echo", args: { n: 2 } } },
      { text: "three", tool: { name: "echo", args: { n: 3 } } },
      { text: "four", tool: { name: "echo", args: { n: 4 } } },
      finalAnswer,
    ],
  },
  "hl-wordy": {
    model: "scripted",
    tools: ["echo"],
    limits: { max_tokens: 40 },
    script: [
      { text: "A short first round.", tool: { name: "echo", args: { n: 1 } } },
      { text: "A much longer second round that goes on and on, well past any sensible budget of tokens for this task." },
    ],
  },
};

const submit = (agent: string, input = "hi", extra: Record<string, unknown> = {}) => submitTask(G, agent, input, extra);
const eventsUrl = (id: string) => `${G}/v1/tasks/${id}/events`;
const label = (e: ReceivedEvent) => (e.type === "status" ? `status:${String(e.data.data.status)}#${e.data.attempt}` : e.type);
const statusTrail = (events: ReceivedEvent[]) => events.filter((e) => e.type === "status").map(label);
const approve = (id: string, call_id: string, decision: "approve" | "reject", reason?: string) =>
  http("POST", `${G}/v1/tasks/${id}/approvals`, { call_id, decision, ...(reason ? { reason } : {}) });
const toolResult = (id: string, body: Record<string, unknown>) => http("POST", `${G}/v1/tasks/${id}/tool-results`, body);

/** Waits until the task parks, with the stream open; returns the waiting event of `type`. */
async function untilParked(stream: SseStream, type: "approval.requested" | "tool.call" = "approval.requested"): Promise<ReceivedEvent> {
  await stream.waitFor((e) => e.type === "status" && e.data.data.status === "input_required", 20_000);
  return stream.waitFor((e) => e.type === type && (type !== "tool.call" || e.data.data.external === true));
}

function expectCumulativeUsage(events: ReceivedEvent[]): number[] {
  const totals = events.filter((e) => e.type === "usage").map((e) => Number(e.data.data.total_tokens));
  for (let i = 1; i < totals.length; i++) expect(totals[i]!, `usage events never go down: ${totals.join(",")}`).toBeGreaterThan(totals[i - 1]!);
  return totals;
}

beforeAll(async () => {
  fleet = await startFleet({ runnerNodes: 1, env: { LOG_LEVEL: "info", REAPER_INTERVAL_MS: "100" } });
  G = fleet.gatewayUrl;
  redis = new Redis(fleet.redisUrl);
  for (const [name, def] of Object.entries(AGENTS)) {
    const res = await http("PUT", `${G}/v1/agents/${name}`, def);
    expect(res.status, `${name}: ${JSON.stringify(res.body)}`).toBe(200);
  }
});

afterAll(async () => {
  redis?.disconnect();
  await fleet?.stop();
});

describe("approval policies (decided by the kernel)", () => {
  it("pattern: parks a matching call without holding a runner slot, and runs it once approved", async () => {
    const id = await submit("hl-pay", "order 7");
    const stream = openStream(eventsUrl(id));
    const requested = await untilParked(stream);
    expect(requested.data.data).toMatchObject({
      call_id: "call_1_1",
      tool: "payments.charge",
      args: { amount: 42, currency: "EUR" },
      reason: "tool 'payments.charge' matches 'payments.*'",
    });

    // Parked: the task says what it waits for; no lease, no slot in use, nothing ran.
    const task = (await http("GET", `${G}/v1/tasks/${id}`)).body;
    expect(task.status).toBe("input_required");
    expect(task.pending.calls).toEqual([expect.objectContaining({ call_id: "call_1_1", kind: "approval", answer: null })]);
    expect(task.live, "no run holds a parked task").toBeUndefined();
    await eventually(async () => (await redis.get(redisKeys.lease(id))) === null, 5000, "lease released");
    const node = await eventually(
      async () => {
        const n = (await http("GET", `${G}/v1/runners`)).body.items.find((r: { id: string }) => r.id === "runner-1");
        return n && n.slots.used === 0 ? n : null;
      },
      5000,
      "runner slot free while parked",
    );
    expect(node.slots.free).toBe(node.slots.total);
    expect(stream.events.some((e) => e.type === "tool.result")).toBe(false);

    const res = await approve(id, "call_1_1", "approve", "looks right");
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ id, call_id: "call_1_1", outcome: "recorded", status: "queued", waiting: [] });

    const events = await stream.done;
    const types = events.map(label);
    expectSubsequence(types, [
      "status:running#1",
      "tool.call",
      "status:input_required#1",
      "approval.requested",
      "approval.decided",
      "status:queued#2",
      "status:running#2",
      "tool.result",
      "status:completed#2",
    ]);
    expect(events.find((e) => e.type === "approval.decided")!.data.data).toMatchObject({
      call_id: "call_1_1",
      decision: "approve",
      reason: "looks right",
      by: "client",
    });
    expect(events.find((e) => e.type === "tool.result")!.data.data.result).toEqual({ status: "charged", amount: 42, currency: "EUR", simulated: true });
    expect(events.filter((e) => e.type === "tool.call")).toHaveLength(1);
    // Usage is cumulative across the park and the resumed attempt.
    const totals = expectCumulativeUsage(events);
    expect(totals.length).toBe(2);
    const done = (await http("GET", `${G}/v1/tasks/${id}`)).body;
    expect(done).toMatchObject({ status: "completed", attempt: 2, result: { text: "Done: order 7" }, pending: null });
    expect(done.usage.total_tokens).toBe(totals.at(-1));
  });

  it("pattern: a rejected call is reported to the model as rejected, with the reason", async () => {
    const id = await submit("hl-pay", "order 8");
    const stream = openStream(eventsUrl(id));
    await untilParked(stream);
    const res = await approve(id, "call_1_1", "reject", "card is blocked");
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const events = await stream.done;
    const result = events.find((e) => e.type === "tool.result")!;
    expect(result.data.data).toMatchObject({ call_id: "call_1_1", tool: "payments.charge", result: { rejected: true, reason: "card is blocked" } });
    expect(result.data.attempt).toBe(2);
    expect(events.at(-1)!.data.data).toMatchObject({ status: "completed", result: { text: "Done: order 8" } });
  });

  it("always: every call waits; never: none does", async () => {
    const a = await submit("hl-always", "a");
    const sa = openStream(eventsUrl(a));
    const req = await untilParked(sa);
    expect(req.data.data).toMatchObject({ tool: "echo", reason: "every tool call of this agent needs approval" });
    expect((await approve(a, "call_1_1", "approve")).status).toBe(200);
    expect((await sa.done).at(-1)!.data.data.status).toBe("completed");

    const n = await submit("hl-never", "n");
    const events = await readStream(eventsUrl(n));
    expect(statusTrail(events)).toEqual(["status:queued#1", "status:running#1", "status:completed#1"]);
    expect(events.some((e) => e.type.startsWith("approval."))).toBe(false);
    expect(events.find((e) => e.type === "tool.result")!.data.data.result).toMatchObject({ status: "charged" });
  });

  it("threshold: only the call above the limit waits; the round's other calls run on resume", async () => {
    const id = await submit("hl-threshold");
    const stream = openStream(eventsUrl(id));
    await untilParked(stream);
    const requested = stream.events.filter((e) => e.type === "approval.requested");
    expect(requested.map((e) => e.data.data.call_id)).toEqual(["call_1_2"]);
    expect(requested[0]!.data.data.reason).toBe("amount 500 is above the limit 100");
    const task = (await http("GET", `${G}/v1/tasks/${id}`)).body;
    expect(task.pending.calls.map((c: { kind: string }) => c.kind)).toEqual(["run", "approval", "run"]);
    expect(stream.events.some((e) => e.type === "tool.result")).toBe(false);

    expect((await approve(id, "call_1_2", "reject", "too much")).status).toBe(200);
    const events = await stream.done;
    const results = events.filter((e) => e.type === "tool.result").map((e) => [e.data.data.call_id, e.data.data.result]);
    expect(results).toEqual([
      ["call_1_1", { status: "charged", amount: 50, currency: "EUR", simulated: true }],
      ["call_1_2", { rejected: true, reason: "too much" }],
      ["call_1_3", { amount: 5000 }],
    ]);
    expect(events.at(-1)!.data.data.status).toBe("completed");
  });

  it("composite (all): waits only when every policy asks for approval", async () => {
    const id = await submit("hl-composite");
    const stream = openStream(eventsUrl(id));
    await untilParked(stream);
    expect(stream.events.filter((e) => e.type === "approval.requested").map((e) => e.data.data.call_id)).toEqual(["call_1_1"]);
    expect((await approve(id, "call_1_1", "approve")).status).toBe(200);
    const events = await stream.done;
    expect(events.filter((e) => e.type === "tool.result").map((e) => e.data.data.call_id)).toEqual(["call_1_1", "call_1_2", "call_1_3"]);
    expect(events.at(-1)!.data.data.status).toBe("completed");
  });

  it("timeout with on_timeout: reject — the call is rejected by the kernel and the task goes on", async () => {
    const id = await submit("hl-timeout-reject");
    const events = await readStream(eventsUrl(id));
    const requested = events.find((e) => e.type === "approval.requested")!;
    expect(requested.data.data.expires_at).toEqual(expect.any(String));
    expect(events.find((e) => e.type === "approval.decided")!.data.data).toMatchObject({
      decision: "reject",
      by: "timeout",
      reason: "no decision within 400 ms",
    });
    expect(events.find((e) => e.type === "tool.result")!.data.data.result).toEqual({ rejected: true, reason: "no decision within 400 ms" });
    expect(events.at(-1)!.data.data.status).toBe("completed");
    // The decision stands: a late person gets 409 with it.
    const late = await approve(id, "call_1_1", "approve");
    expect(late.status).toBe(409);
    expect(late.body.error).toMatchObject({ code: "already_decided", details: { standing: { decision: "reject", by: "timeout" } } });
  });

  it("timeout with on_timeout: fail — the task fails with approval_timeout", async () => {
    const id = await submit("hl-timeout-fail");
    const events = await readStream(eventsUrl(id));
    expect(statusTrail(events)).toEqual(["status:queued#1", "status:running#1", "status:input_required#1", "status:failed#1"]);
    expect(events.at(-1)!.data.data.error).toMatchObject({ code: "approval_timeout", retryable: false });
    expect(events.some((e) => e.type === "tool.result")).toBe(false);
  });
});

describe("external tools (executed by the client)", () => {
  it("emits the call with external: true, refuses a result that breaks `returns` with 400, resumes on a good one", async () => {
    const id = await submit("hl-weather", "Lisbon");
    const stream = openStream(eventsUrl(id));
    const call = await untilParked(stream, "tool.call");
    expect(call.data.data).toMatchObject({ call_id: "call_1_1", tool: "get_weather", args: { city: "Lisbon" }, external: true });
    expect(stream.events.some((e) => e.type === "approval.requested")).toBe(false);

    const bad = await toolResult(id, { call_id: "call_1_1", result: { temp_c: "warm", wind: 3 } });
    expect(bad.status, JSON.stringify(bad.body)).toBe(400);
    expect(bad.body.error.code).toBe("bad_request");
    expect(bad.body.error.message).toContain("result.temp_c");
    expect(bad.body.error.details).toEqual(
      expect.arrayContaining([
        { path: "result.temp_c", message: "must be number" },
        { path: "result", message: "must NOT have additional properties ('wind')" },
      ]),
    );
    expect((await http("GET", `${G}/v1/tasks/${id}`)).body.status).toBe("input_required");
    // An approval is the wrong kind of answer for it.
    const wrong = await approve(id, "call_1_1", "approve");
    expect(wrong.status).toBe(409);

    const good = await toolResult(id, { call_id: "call_1_1", result: { temp_c: 21.5, sky: "clear" } });
    expect(good.status, JSON.stringify(good.body)).toBe(200);
    const events = await stream.done;
    const result = events.find((e) => e.type === "tool.result")!;
    expect(result.data.data).toMatchObject({ call_id: "call_1_1", tool: "get_weather", result: { temp_c: 21.5, sky: "clear" } });
    expectSubsequence(events.map(label), ["tool.call", "status:input_required#1", "status:queued#2", "status:running#2", "tool.result", "status:completed#2"]);
    // The model saw the result: its conversation goes on to the final answer.
    expect(events.at(-1)!.data.data).toMatchObject({ status: "completed", result: { text: "Done: Lisbon" } });
  });

  it("passes a client's error to the model as the tool's error", async () => {
    const id = await submit("hl-weather", "Atlantis");
    const stream = openStream(eventsUrl(id));
    await untilParked(stream, "tool.call");
    const res = await toolResult(id, { call_id: "call_1_1", error: { message: "no such city", code: "not_found" } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const events = await stream.done;
    expect(events.find((e) => e.type === "tool.result")!.data.data.error).toEqual({ code: "not_found", message: "no such city", retryable: false });
    expect(events.at(-1)!.data.data.status).toBe("completed");
  });

  it("resumes a round that waits for an approval and a tool result only when both are in", async () => {
    const id = await submit("hl-mixed", "m");
    const stream = openStream(eventsUrl(id));
    const parked = await stream.waitFor((e) => e.type === "status" && e.data.data.status === "input_required");
    expect(parked.data.data.waiting).toEqual([
      { call_id: "call_1_1", tool: "echo", kind: "approval" },
      { call_id: "call_1_2", tool: "get_time", kind: "external" },
    ]);
    const first = await approve(id, "call_1_1", "approve");
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body).toMatchObject({ status: "input_required", waiting: ["call_1_2"] });
    expect((await http("GET", `${G}/v1/tasks/${id}`)).body.status).toBe("input_required");
    const second = await toolResult(id, { call_id: "call_1_2", result: "12:00" });
    expect(second.body).toMatchObject({ status: "queued", waiting: [] });
    const events = await stream.done;
    expect(events.filter((e) => e.type === "tool.result").map((e) => [e.data.data.call_id, e.data.data.result])).toEqual([
      ["call_1_1", { q: "x" }],
      ["call_1_2", "12:00"],
    ]);
    expect(statusTrail(events)).toEqual([
      "status:queued#1",
      "status:running#1",
      "status:input_required#1",
      "status:queued#2",
      "status:running#2",
      "status:completed#2",
    ]);
  });

  it("refuses a body with both or neither of result and error", async () => {
    const id = await submit("hl-weather", "x");
    const stream = openStream(eventsUrl(id));
    await untilParked(stream, "tool.call");
    for (const body of [{ call_id: "call_1_1" }, { call_id: "call_1_1", result: { temp_c: 1 }, error: "x" }]) {
      const res = await toolResult(id, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.message).toContain("result");
    }
    expect((await http("POST", `${G}/v1/tasks/${id}/cancel`)).status).toBe(202);
    expect((await stream.done).at(-1)!.data.data.status).toBe("canceled");
  });
});

describe("races and wrong answers", () => {
  it("the first of many concurrent decisions wins; the others get 409 with the decision that stands", async () => {
    const id = await submit("hl-pay", "race");
    const stream = openStream(eventsUrl(id));
    await untilParked(stream);
    const decisions = ["approve", "reject", "approve", "reject", "approve", "reject", "approve", "reject"] as const;
    const answers = await Promise.all(decisions.map((d, i) => approve(id, "call_1_1", d, `client ${i}`)));
    const winners = answers.filter((r) => r.status === 200);
    const losers = answers.filter((r) => r.status !== 200);
    expect(winners, answers.map((r) => r.status).join(",")).toHaveLength(1);
    const winner = answers.indexOf(winners[0]!);
    for (const l of losers) {
      expect(l.status).toBe(409);
      expect(l.body.error.code).toBe("already_decided");
      expect(l.body.error.details.standing).toMatchObject({ type: "approval", decision: decisions[winner], reason: `client ${winner}`, by: "client" });
    }
    const events = await stream.done;
    const decided = events.filter((e) => e.type === "approval.decided");
    expect(decided).toHaveLength(1);
    expect(decided[0]!.data.data).toMatchObject({ decision: decisions[winner], reason: `client ${winner}` });
    expect(statusTrail(events).filter((s) => s.startsWith("status:queued"))).toEqual(["status:queued#1", "status:queued#2"]);
    expect(events.at(-1)!.data.data.status).toBe("completed");
    // After the end: still 409 with the standing decision.
    const late = await approve(id, "call_1_1", "approve");
    expect(late.status).toBe(409);
    expect(late.body.error.details.standing.decision).toBe(decisions[winner]);
  });

  it("answers an unknown call_id with 404 and a task that is not waiting with 409", async () => {
    const id = await submit("hl-pay", "unknown");
    const stream = openStream(eventsUrl(id));
    await untilParked(stream);
    const unknown = await approve(id, "call_9_9", "approve");
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe("call_not_found");
    expect((await approve(id, "call_1_1", "approve")).status).toBe(200);
    await stream.done;

    const running = await submit("hl-sleepy");
    const rs = openStream(eventsUrl(running));
    await rs.waitFor((e) => e.type === "tool.call");
    const notWaiting = await approve(running, "call_1_1", "approve");
    expect(notWaiting.status).toBe(409);
    expect(notWaiting.body.error).toMatchObject({ code: "task_not_waiting", details: { status: "running" } });
    const notWaitingResult = await toolResult(running, { call_id: "call_1_1", result: 1 });
    expect(notWaitingResult.status).toBe(409);
    await rs.done;
    const finished = await approve(running, "call_1_1", "approve");
    expect(finished.status).toBe(409);
    expect(finished.body.error).toMatchObject({ code: "task_not_waiting", details: { status: "completed" } });
    const missing = await approve("01a201a7-9eed-72ff-9d64-000000000000", "call_1_1", "approve");
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("task_not_found");
    const bad = await http("POST", `${G}/v1/tasks/${running}/approvals`, { call_id: "call_1_1", decision: "maybe" });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain("decision");
  });
});

describe("budgets (decided by the kernel)", () => {
  it("max_rounds: a model that keeps asking for tools fails with budget_exceeded after its last round", async () => {
    const id = await submit("hl-rounds");
    const events = await readStream(eventsUrl(id));
    expect(statusTrail(events)).toEqual(["status:queued#1", "status:running#1", "status:failed#1"]);
    expect(events.at(-1)!.data.data.error).toMatchObject({
      code: "budget_exceeded",
      retryable: false,
      details: { budget: "max_rounds", limit: 4, used: 4 },
    });
    // Rounds 1–3 ran their tools; round 4's call never ran, and no round 5 started.
    expect(events.filter((e) => e.type === "tool.result").map((e) => e.data.data.round)).toEqual([1, 2, 3]);
    expect(Math.max(...events.filter((e) => e.type === "step.start").map((e) => Number(e.data.data.round)))).toBe(4);
    expect((await http("GET", `${G}/v1/tasks/${id}`)).body).toMatchObject({ status: "failed", error: { code: "budget_exceeded" } });
  });

  it("max_tokens: the round that goes over ends the task with budget_exceeded; usage is cumulative", async () => {
    const id = await submit("hl-wordy");
    const events = await readStream(eventsUrl(id));
    const totals = expectCumulativeUsage(events);
    expect(totals.at(-1)!).toBeGreaterThan(40);
    expect(totals[0]!).toBeLessThanOrEqual(40);
    // The over-budget round is final (no tool calls): the runner judges it (ARCHITECTURE.md §8),
    // and its non-retryable error ends the task on attempt 1, exactly as the kernel's check did.
    expect(statusTrail(events)).toEqual(["status:queued#1", "status:running#1", "status:failed#1"]);
    expect(events.at(-1)!.data.data).toMatchObject({
      status: "failed",
      error: { code: "budget_exceeded", retryable: false, details: { budget: "max_tokens", limit: 40, used: totals.at(-1)! } },
    });
    expect((await http("GET", `${G}/v1/tasks/${id}`)).body.result).toBeNull();
  });

  it("a task may lower its agent's limits but not raise them", async () => {
    const raised = await http("POST", `${G}/v1/tasks`, { agent: "hl-rounds", input: "x", limits: { max_rounds: 10 } });
    expect(raised.status).toBe(400);
    expect(raised.body.error.message).toContain("limits.max_rounds");
    expect(raised.body.error.details).toEqual([{ path: "limits.max_rounds", message: "may lower the agent's max_rounds (4), not raise it (10)" }]);
    const unknownField = await http("POST", `${G}/v1/tasks`, { agent: "hl-rounds", input: "x", limits: { max_minutes: 1 } });
    expect(unknownField.status).toBe(400);

    const lowered = await submit("hl-rounds", "x", { limits: { max_rounds: 2 } });
    const events = await readStream(eventsUrl(lowered));
    expect(events.at(-1)!.data.data.error).toMatchObject({ code: "budget_exceeded", details: { budget: "max_rounds", limit: 2 } });
    expect(events.filter((e) => e.type === "tool.result")).toHaveLength(1);

    // An agent without a deadline accepts any; the task's deadline then ends it.
    const deadline = await submit("hl-sleepy", "x", { limits: { deadline_ms: 500 } });
    const dEvents = await readStream(eventsUrl(deadline));
    expect(dEvents.at(-1)!.data.data).toMatchObject({ status: "failed", error: { code: "budget_exceeded", details: { budget: "deadline", limit: 500 } } });
  });
});
