// @switchyard/client against a real fleet (separate processes): every API group, and
// tasks.follow through a gateway killed and restarted mid-stream — the events it yields must be
// exactly the task's events (the same seqs as a full read after the fact), none twice, none lost.
import { createClient, SwitchyardApiError, type SwitchyardClient, type TaskEvent } from "@switchyard/client";
import { type Fleet, type ServiceProcess, startFleet, startService } from "@switchyard/devkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readStream } from "../src/sse.ts";
import { describeEvents, eventsUrl, putAgents } from "../src/support.ts";

let fleet: Fleet;
let G: string;
let sy: SwitchyardClient;
/** The gateway running now (the test replaces the fleet's one). */
let gateway: ServiceProcess;

const AGENTS = {
  "sdk-steps": {
    model: "scripted",
    tools: ["sleep"],
    script: [
      { text: "step one", tool: { name: "sleep", args: { ms: 600 } } },
      { text: "step two", tool: { name: "sleep", args: { ms: 600 } } },
      { text: "step three", tool: { name: "sleep", args: { ms: 600 } } },
      { text: "step four", tool: { name: "sleep", args: { ms: 600 } } },
      { text: "all done with {{input}}" },
    ],
  },
  "sdk-pay": {
    model: "scripted",
    tools: ["payments.charge"],
    approval: { policy: "pattern", tools: ["payments.*"] },
    script: [{ text: "Charging.", tool: { name: "payments.charge", args: { amount: 42 } } }, { text: "Paid for {{input}}." }],
  },
  "sdk-ext": {
    model: "scripted",
    tools: [{ name: "lookup", external: true, parameters: { type: "object" } }],
    script: [{ text: "Looking up.", tool: { name: "lookup", args: { q: "{{input}}" } } }, { text: "Found it." }],
  },
};

beforeAll(async () => {
  fleet = await startFleet();
  G = fleet.gatewayUrl;
  gateway = fleet.services.gateway;
  sy = createClient({ baseUrl: G, retry: { attempts: 8, baseDelayMs: 100 } });
  await putAgents(G, AGENTS);
});

afterAll(async () => {
  if (gateway !== fleet?.services.gateway) await gateway?.stop();
  await fleet?.stop();
});

const seqs = (events: { seq?: number; id?: number }[]) => events.map((e) => e.seq ?? e.id);
const describe2 = (events: TaskEvent[]) => describeEvents(events.map((e) => ({ id: e.seq, type: e.type, data: e as never, receivedAt: 0 })));

describe("@switchyard/client against a fleet", () => {
  it("runs a task: submit, follow, result; the events equal a raw SSE read", async () => {
    const out = await sy.tasks.run("hello", "SDK");
    expect(out.status).toBe("completed");
    expect(out.text).toContain("SDK");
    expect(out.events.at(-1)?.type).toBe("status");
    const raw = await readStream(eventsUrl(G, out.task.id));
    expect(seqs(out.events)).toEqual(seqs(raw));
    const text = out.events.flatMap((e) => (e.type === "text.delta" ? [e.data.delta] : [])).join("");
    expect(text.length).toBeGreaterThan(0);
  });

  it("follow({after}) starts after the given seq", async () => {
    const out = await sy.tasks.run("hello", "again");
    const mid = out.events[2]?.seq as number;
    const rest: number[] = [];
    for await (const e of sy.tasks.follow(out.task.id, { after: mid })) rest.push(e.seq);
    expect(rest).toEqual(seqs(out.events).filter((s) => (s as number) > mid));
  });

  it("submit sends an idempotency key by default, and a given key returns the same task", async () => {
    const a = await sy.tasks.submit({ agent: "hello", input: "once" }, { idempotencyKey: "sdk-key-1" });
    const b = await sy.tasks.submit({ agent: "hello", input: "once" }, { idempotencyKey: "sdk-key-1" });
    expect(b.id).toBe(a.id);
    expect(b.duplicate).toBe(true);
    const c = await sy.tasks.submit({ agent: "hello", input: "once" });
    expect(c.id).not.toBe(a.id);
    expect(c.duplicate).toBe(false);
    const listed = await sy.tasks.list({ agent: "hello", limit: 500 });
    expect(listed.items.map((t) => t.id)).toEqual(expect.arrayContaining([a.id, c.id]));
  });

  it("errors carry the catalogue's code and status", async () => {
    const err = await sy.tasks.get("0190a0a0-0000-7000-8000-000000000000").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SwitchyardApiError);
    expect((err as SwitchyardApiError).status).toBe(404);
    expect((err as SwitchyardApiError).code).toBe("task_not_found");
    const bad = await sy.tasks.submit({ agent: "no-such-agent", input: "x" }).catch((e: unknown) => e);
    expect((bad as SwitchyardApiError).code).toBe("agent_not_found");
    const followMissing = await (async () => {
      for await (const _ of sy.tasks.follow("0190a0a0-0000-7000-8000-000000000000")) {
        /* nothing */
      }
    })().catch((e: unknown) => e);
    expect((followMissing as SwitchyardApiError).code).toBe("task_not_found");
  });

  it("approvals.decide resumes a parked call; a second answer is 409 already_decided", async () => {
    const { id } = await sy.tasks.submit({ agent: "sdk-pay", input: "order 7" });
    const seen: string[] = [];
    for await (const e of sy.tasks.follow(id)) {
      seen.push(e.type);
      if (e.type === "approval.requested") {
        const call = e.data.call_id;
        const ans = await sy.approvals.approve(id, call, { reason: "ok by test" });
        expect(ans.outcome).toBe("recorded");
        const again = await sy.approvals.reject(id, call).catch((x: unknown) => x);
        expect((again as SwitchyardApiError).code).toBe("already_decided");
      }
    }
    const t = await sy.tasks.get(id);
    expect(t.status, seen.join(",")).toBe("completed");
    expect(seen).toContain("approval.decided");
  });

  it("toolResults.post answers an external tool call", async () => {
    const { id } = await sy.tasks.submit({ agent: "sdk-ext", input: "thing" });
    for await (const e of sy.tasks.follow(id)) {
      if (e.type === "tool.call" && e.data.external) {
        await sy.toolResults.post(id, { call_id: e.data.call_id, result: { found: true } });
      }
    }
    expect((await sy.tasks.get(id)).result?.text).toContain("Found it");
  });

  it("cancel ends a running task", async () => {
    const { id } = await sy.tasks.submit({ agent: "sdk-steps", input: "x" });
    const types: string[] = [];
    for await (const e of sy.tasks.follow(id)) {
      types.push(e.type);
      if (e.type === "text.delta" && types.filter((t) => t === "text.delta").length === 1) await sy.tasks.cancel(id, { reason: "test" });
    }
    expect((await sy.tasks.get(id)).status).toBe("canceled");
  });

  it("agents and runners", async () => {
    const put = await sy.agents.put("sdk-tmp", { model: "scripted", script: [{ text: "hi" }] });
    expect(put.name).toBe("sdk-tmp");
    expect((await sy.agents.get("sdk-tmp")).model).toBe("scripted");
    expect((await sy.agents.list()).map((a) => a.name)).toContain("sdk-tmp");
    await sy.agents.delete("sdk-tmp");
    expect(((await sy.agents.get("sdk-tmp").catch((e: unknown) => e)) as SwitchyardApiError).status).toBe(404);
    const nodes = await sy.runners.list();
    expect(nodes.length).toBeGreaterThan(0);
    expect(nodes[0]?.slots.total).toBeGreaterThan(0);
    const kinds = await sy.runners.kinds();
    expect(kinds.map((k) => k.kind)).toContain("local");
  });

  it("follow resumes through a gateway killed and restarted mid-stream: no gap, no duplicate", async () => {
    const { id } = await sy.tasks.submit({ agent: "sdk-steps", input: "restart" });
    const got: TaskEvent[] = [];
    const reconnects: number[] = [];
    let killed = false;
    const port = new URL(G).port;
    const env = { NATS_URL: fleet.natsUrl, REDIS_URL: fleet.redisUrl, PORT: port };
    for await (const e of sy.tasks.follow(id, { onReconnect: (r) => reconnects.push(r.after) })) {
      got.push(e);
      if (!killed && e.type === "tool.call") {
        killed = true;
        await gateway.kill("SIGKILL");
        // The task keeps running without a gateway; come back after it has made progress.
        await new Promise((r) => setTimeout(r, 1500));
        gateway = await startService("gateway", { env, label: "gateway-2" });
      }
    }
    expect(killed).toBe(true);
    expect(reconnects.length, "the follower reconnected").toBeGreaterThan(0);
    const full = await readStream(eventsUrl(G, id));
    const mine = seqs(got);
    expect(new Set(mine).size, `duplicates in ${describe2(got)}`).toBe(mine.length);
    expect(mine, `client saw ${describe2(got)}`).toEqual(seqs(full));
    expect(got.at(-1)?.type).toBe("status");
    expect((got.at(-1)?.data as { status?: string } | undefined)?.status).toBe("completed");
  });
});
