// Per-tenant quotas over real processes (docs/SECURITY.md): submits per second, unfinished tasks,
// open SSE streams and agents. Tenant A at each of its limits gets 429 with Retry-After, while
// tenant B's submits are accepted and its tasks complete (behaviour, never timing).
import { type Fleet, startFleet } from "@switchyard/devkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, http, upgradeStatus } from "../src/http.ts";
import { openStream, readStream } from "../src/sse.ts";
import { statusTrail } from "../src/support.ts";

const A = "tok-a";
const B = "tok-b";
let fleet: Fleet;
let G: string;
const as = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
const call = (method: string, p: string, token: string, body?: unknown) => http(method, `${G}${p}`, body, as(token));
const PARKS = { model: "scripted", tools: ["echo"], approval: { policy: "always" }, script: [{ tool: { name: "echo", args: {} } }, { text: "ok" }] };

async function runToEnd(token: string, agent: string): Promise<string> {
  const res = await call("POST", "/v1/tasks", token, { agent, input: "x" });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  const events = await readStream(`${G}/v1/tasks/${res.body.id}/events`, as(token));
  return statusTrail(events).at(-1) ?? "(none)";
}

beforeAll(async () => {
  fleet = await startFleet({
    env: {
      API_KEYS: `${A}:acme,${B}:beta`,
      RATE_SUBMITS_PER_S: "5",
      MAX_ACTIVE_TASKS_PER_TENANT: "3",
      MAX_STREAMS_PER_TENANT: "3",
      MAX_AGENTS_PER_TENANT: "2",
    },
  });
  G = fleet.gatewayUrl;
});

afterAll(async () => {
  await fleet?.stop();
});

describe("quotas per tenant", () => {
  it("submits per second: A's burst gets 429 with Retry-After; B's tasks are accepted and complete meanwhile", async () => {
    const burst = Promise.all(Array.from({ length: 30 }, () => call("POST", "/v1/tasks", A, { agent: "no-such-agent", input: "x" })));
    const bTasks = Promise.all([runToEnd(B, "hello"), runToEnd(B, "hello"), runToEnd(B, "hello")]);
    const answers = await burst;
    const limited = answers.filter((r) => r.status === 429);
    expect(limited.length, `statuses: ${answers.map((r) => r.status).join(",")}`).toBeGreaterThan(0);
    expect(limited[0]?.headers.get("retry-after")).toBe("1");
    expect(limited[0]?.body.error).toMatchObject({ code: "rate_limited", details: { quota: "submits_per_second", limit: 5 } });
    expect(answers.every((r) => r.status === 429 || r.status === 404)).toBe(true);
    expect(await bTasks).toEqual(["completed#1", "completed#1", "completed#1"]);
  });

  it("unfinished tasks: A at its limit gets 429; B's tasks complete; A may submit again once one ends", async () => {
    expect((await call("PUT", "/v1/agents/parks", A, PARKS)).status).toBe(200);
    const parked: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await eventually(
        async () => {
          const r = await call("POST", "/v1/tasks", A, { agent: "parks", input: `p${i}` });
          return r.status === 202 ? r : null; // a 429 of the per-second rate is retried
        },
        20_000,
        `A's task ${i}`,
      );
      parked.push(res.body.id);
    }
    const refused = await eventually(
      async () => {
        const r = await call("POST", "/v1/tasks", A, { agent: "parks", input: "one too many" });
        return r.status === 429 && r.body.error.details.quota === "active_tasks" ? r : null;
      },
      20_000,
      "A's fourth task to be refused",
    );
    expect(refused.headers.get("retry-after")).toBe("5");
    expect(refused.body.error.details).toMatchObject({ limit: 3, used: 3 });
    expect(await Promise.all([runToEnd(B, "hello"), runToEnd(B, "hello")])).toEqual(["completed#1", "completed#1"]);
    expect((await call("POST", `/v1/tasks/${parked[0]}/cancel`, A, {})).status).toBe(202);
    const again = await eventually(
      async () => {
        const r = await call("POST", "/v1/tasks", A, { agent: "parks", input: "after a cancel" });
        return r.status === 202 ? r : null;
      },
      20_000,
      "A to submit again after a task ended",
    );
    parked.push(again.body.id);
    for (const id of parked.slice(1)) await call("POST", `/v1/tasks/${id}/cancel`, A, {});
  });

  it("open streams: A's fourth stream is 429 while B streams; a closed stream frees its slot", async () => {
    const res = await eventually(
      async () => {
        const r = await call("POST", "/v1/tasks", A, { agent: "parks", input: "stream me" });
        return r.status === 202 ? r : null;
      },
      30_000,
      "A's task for streams",
    );
    const url = `${G}/v1/tasks/${res.body.id}/events`;
    const streams = [openStream(url, as(A)), openStream(url, as(A)), openStream(url, as(A))];
    expect(await Promise.all(streams.map((s) => s.status))).toEqual([200, 200, 200]);
    const fourth = await http("GET", url, undefined, as(A));
    expect(fourth.status).toBe(429);
    expect(fourth.body.error.details).toMatchObject({ quota: "streams", limit: 3 });
    expect(fourth.headers.get("retry-after")).toBe("5");
    expect(await runToEnd(B, "hello")).toBe("completed#1");
    streams[0]?.close();
    const reopened = await eventually(
      async () => {
        const s = openStream(url, as(A));
        if ((await s.status) === 200) return s;
        s.close();
        return null;
      },
      20_000,
      "A's stream slot to be given back",
    );
    reopened.close();
    for (const s of streams) s.close();
    await call("POST", `/v1/tasks/${res.body.id}/cancel`, A, {});
  });

  it("operator WebSockets count as streams: A's three fill its quota, its fourth upgrade is 429, B connects; a closed one frees its slot", async () => {
    const connectOperator = (id: string, token: string) =>
      new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(`${G.replace("http", "ws")}/v1/operators/${id}/connect?access_token=${token}`);
        ws.addEventListener("message", (ev) => JSON.parse(String(ev.data)).type === "registered" && resolve(ws));
        ws.addEventListener("close", () => reject(new Error(`operator ${id} was refused`)));
      });
    // Streams of the test above may still be giving their slots back.
    const open = await eventually(
      async () => {
        const got = await Promise.allSettled(["q-op-1", "q-op-2", "q-op-3"].map((id) => connectOperator(id, A)));
        const ws = got.flatMap((g) => (g.status === "fulfilled" ? [g.value] : []));
        if (ws.length === 3) return ws;
        for (const w of ws) w.close();
        return null;
      },
      30_000,
      "A's three operator WebSockets",
    );
    try {
      expect(await upgradeStatus(`${G}/v1/operators/q-op-4/connect`, as(A))).toBe(429);
      const b = await connectOperator("q-op-b", B);
      b.close();
      open[0]?.close();
      const again = await eventually(
        async () => (await upgradeStatus(`${G}/v1/operators/q-op-4/connect`, as(A))) === 101,
        20_000,
        "A's WebSocket slot to be given back",
      );
      expect(again).toBe(true);
    } finally {
      for (const w of open) w.close();
    }
  });

  it("agents: A's third agent is 429; B may still create its own", async () => {
    // A holds `parks` already.
    expect((await call("PUT", "/v1/agents/second", A, { model: "scripted", script: [{ text: "x" }] })).status).toBe(200);
    const third = await call("PUT", "/v1/agents/third", A, { model: "scripted", script: [{ text: "x" }] });
    expect(third.status).toBe(429);
    expect(third.body.error).toMatchObject({ code: "rate_limited", details: { quota: "agents", limit: 2, used: 2 } });
    expect(third.headers.get("retry-after")).toBe("60");
    expect((await call("PUT", "/v1/agents/second", A, { model: "scripted", script: [{ text: "replaced" }] })).status).toBe(200); // replacing is not adding
    expect((await call("PUT", "/v1/agents/third", B, { model: "scripted", script: [{ text: "x" }] })).status).toBe(200);
  });
});
