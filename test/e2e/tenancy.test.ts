// Authentication, scopes and tenancy over real processes (docs/SECURITY.md): every route but
// the health checks needs a key; a key without a route's scope gets 403 naming it; tenant B on
// tenant A's tasks, agents and operators gets 403/404, never 2xx; shared agents (AGENTS_DIR) are
// read-only; stored keys from `./switchyard keys` work and stop working when revoked, on a gateway
// that is already running.
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { type Fleet, startFleet } from "@switchyard/devkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, http, upgradeStatus as upgradeStatusOf } from "../src/http.ts";
import { readStream } from "../src/sse.ts";
import { statusTrail } from "../src/support.ts";

const run = promisify(execFile);
const REPO = path.resolve(import.meta.dirname, "../..");

const KEYS = {
  a: "tok-a", // acme, every scope
  b: "tok-b", // beta, every scope
  ro: "tok-ro", // acme, tasks:read only
  adm: "tok-adm", // ops, admin
};
const API_KEYS = "tok-a:acme,tok-b:beta,tok-ro:acme:tasks:read,agents:read,tok-adm:ops:admin";
const METRICS_TOKEN = "scrape-me";

let fleet: Fleet;
let G: string;
const as = (token: string | undefined): Record<string, string> => (token ? { authorization: `Bearer ${token}` } : {});
const call = (method: string, p: string, token?: string, body?: unknown) => http(method, `${G}${p}`, body, as(token));

/** The HTTP status of a WebSocket upgrade (403/401 before the upgrade, 101 when accepted). */
const upgradeStatus = (p: string, token?: string): Promise<number> => upgradeStatusOf(`${G}${p}`, as(token));

async function submitAs(token: string, agent: string, input = "hi"): Promise<string> {
  const res = await call("POST", "/v1/tasks", token, { agent, input });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.id as string;
}

beforeAll(async () => {
  fleet = await startFleet({ env: { API_KEYS, METRICS_TOKEN } });
  G = fleet.gatewayUrl;
});

afterAll(async () => {
  await fleet?.stop();
});

describe("authentication and scopes", () => {
  const routes: [string, string][] = [
    ["POST", "/v1/tasks"],
    ["GET", "/v1/tasks"],
    ["GET", "/v1/tasks/0190a6a2-0000-7000-8000-000000000000"],
    ["GET", "/v1/tasks/0190a6a2-0000-7000-8000-000000000000/events"],
    ["POST", "/v1/tasks/0190a6a2-0000-7000-8000-000000000000/cancel"],
    ["POST", "/v1/tasks/0190a6a2-0000-7000-8000-000000000000/approvals"],
    ["POST", "/v1/tasks/0190a6a2-0000-7000-8000-000000000000/tool-results"],
    ["GET", "/v1/agents"],
    ["GET", "/v1/agents/hello"],
    ["PUT", "/v1/agents/hello"],
    ["DELETE", "/v1/agents/hello"],
    ["GET", "/v1/runners"],
    ["GET", "/v1/runner-kinds"],
    ["GET", "/v1/operators"],
    ["GET", "/metrics"],
  ];

  it.each(routes)("%s %s without a key (or with an unknown one) is 401", async (method, p) => {
    for (const token of [undefined, "not-a-key"]) {
      const res = await call(method, p, token, method === "GET" || method === "DELETE" ? undefined : { agent: "hello", input: "x" });
      expect(res.status, `${method} ${p} ${token ?? "(no key)"}: ${JSON.stringify(res.body)}`).toBe(401);
      expect(res.body.error.code).toBe("unauthorized");
    }
  });

  it("the operator WebSocket refuses a missing key before the upgrade", async () => {
    expect(await upgradeStatus("/v1/operators/someone/connect")).toBe(401);
  });

  it("health checks need no key", async () => {
    expect((await call("GET", "/healthz")).status).toBe(200);
    expect((await call("GET", "/readyz")).status).toBe(200);
  });

  it("a key without the route's scope gets 403 naming the scope", async () => {
    const post = await call("POST", "/v1/tasks", KEYS.ro, { agent: "hello", input: "x" });
    expect(post.status).toBe(403);
    expect(post.body.error).toMatchObject({ code: "forbidden", details: { missing_scope: "tasks:write" } });
    expect(post.body.error.message).toContain("tasks:write");
    expect((await call("PUT", "/v1/agents/x", KEYS.ro, { model: "scripted" })).body.error.details).toEqual({ missing_scope: "agents:write" });
    expect((await call("GET", "/v1/runners", KEYS.ro)).status).toBe(403);
    expect((await call("GET", "/metrics", KEYS.ro)).body.error.details).toEqual({ missing_scope: "admin" });
    // What the scope allows is served.
    expect((await call("GET", "/v1/tasks", KEYS.ro)).status).toBe(200);
    expect((await call("GET", "/v1/agents", KEYS.ro)).status).toBe(200);
    expect((await call("GET", "/v1/runner-kinds", KEYS.ro)).status).toBe(200);
    expect((await call("GET", "/v1/runners", KEYS.adm)).status).toBe(200);
  });

  it("/metrics answers an admin key and METRICS_TOKEN", async () => {
    for (const token of [KEYS.adm, METRICS_TOKEN]) {
      const res = await call("GET", "/metrics", token);
      expect(res.status).toBe(200);
      expect(String(res.body)).toContain("sy_http_requests_total");
    }
  });
});

describe("tenant isolation", () => {
  let taskA: string;

  beforeAll(async () => {
    const parked = {
      model: "scripted",
      tools: ["payments.charge"],
      approval: { policy: "always" },
      script: [{ tool: { name: "payments.charge", args: { amount: 1 } } }, { text: "paid" }],
    };
    expect((await call("PUT", "/v1/agents/only-a", KEYS.a, parked)).status).toBe(200);
    taskA = await submitAs(KEYS.a, "only-a");
    await eventually(async () => (await call("GET", `/v1/tasks/${taskA}`, KEYS.a)).body.status === "input_required", 30_000, "A's task to park");
  });

  it("B gets 404 on every route of A's task, and never sees it in a list", async () => {
    const matrix: [string, string, unknown?][] = [
      ["GET", `/v1/tasks/${taskA}`],
      ["GET", `/v1/tasks/${taskA}/events`],
      ["POST", `/v1/tasks/${taskA}/cancel`, {}],
      ["POST", `/v1/tasks/${taskA}/approvals`, { call_id: "call_1_1", decision: "approve" }],
      ["POST", `/v1/tasks/${taskA}/tool-results`, { call_id: "call_1_1", result: {} }],
    ];
    for (const [method, p, body] of matrix) {
      const res = await call(method, p, KEYS.b, body);
      expect(res.status, `${method} ${p} as B: ${JSON.stringify(res.body)}`).toBe(404);
      expect(res.body.error.code).toBe("task_not_found");
    }
    const listed = (await call("GET", "/v1/tasks?limit=500", KEYS.b)).body.items as { id: string }[];
    expect(listed.map((t) => t.id)).not.toContain(taskA);
    expect(((await call("GET", "/v1/tasks?limit=500", KEYS.a)).body.items as { id: string }[]).map((t) => t.id)).toContain(taskA);
    // A's task still waits for A's answer: nothing B did reached it.
    expect((await call("GET", `/v1/tasks/${taskA}`, KEYS.a)).body.status).toBe("input_required");
  });

  it("B cannot see, run, change or delete A's agents (probe 1)", async () => {
    expect((await call("GET", "/v1/agents/only-a", KEYS.b)).status).toBe(404);
    expect(((await call("GET", "/v1/agents", KEYS.b)).body.items as { name: string }[]).map((a) => a.name)).not.toContain("only-a");
    expect((await call("DELETE", "/v1/agents/only-a", KEYS.b)).status).toBe(404);
    const submitted = await call("POST", "/v1/tasks", KEYS.b, { agent: "only-a", input: "x" });
    expect(submitted.status).toBe(404);
    expect(submitted.body.error.code).toBe("agent_not_found");
    // B's PUT under the same name makes B's own agent; A's stays as it was.
    expect((await call("PUT", "/v1/agents/only-a", KEYS.b, { model: "scripted", script: [{ text: "b" }], approval: { policy: "never" } })).status).toBe(200);
    expect((await call("GET", "/v1/agents/only-a", KEYS.a)).body.approval.policy).toBe("always");
    expect((await call("GET", "/v1/agents/only-a", KEYS.b)).body.approval.policy).toBe("never");
    expect((await call("DELETE", "/v1/agents/only-a", KEYS.b)).status).toBe(200);
    expect((await call("GET", "/v1/agents/only-a", KEYS.a)).status).toBe(200);
  });

  it("shared agents (AGENTS_DIR) run for every tenant, are read-only, and a tenant's own copy shadows them for that tenant alone", async () => {
    for (const token of [KEYS.a, KEYS.b]) {
      const id = await submitAs(token, "hello");
      const events = await readStream(`${G}/v1/tasks/${id}/events`, as(token));
      expect(statusTrail(events).at(-1)).toBe("completed#1");
    }
    const refused = await call("DELETE", "/v1/agents/pay", KEYS.b);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe("forbidden");
    // B rewrites `pay` to need no approval: only B's runs change. A's pay still parks for a person.
    const payB = (await call("GET", "/v1/agents/pay", KEYS.b)).body;
    expect((await call("PUT", "/v1/agents/pay", KEYS.b, { ...payB, approval: { policy: "never" } })).status).toBe(200);
    const idA = await submitAs(KEYS.a, "pay", "order 1");
    await eventually(async () => (await call("GET", `/v1/tasks/${idA}`, KEYS.a)).body.status === "input_required", 30_000, "A's pay to wait for approval");
    const idB = await submitAs(KEYS.b, "pay", "order 2");
    await eventually(async () => (await call("GET", `/v1/tasks/${idB}`, KEYS.b)).body.status === "completed", 30_000, "B's pay to complete");
    expect((await call("DELETE", "/v1/agents/pay", KEYS.b)).status).toBe(200);
    expect((await call("GET", "/v1/agents/pay", KEYS.b)).body.approval.policy).toBe("pattern");
    await call("POST", `/v1/tasks/${idA}/cancel`, KEYS.a, {});
  });

  it("an operator id belongs to the tenant that registered it: another tenant's connect is 403 (probe 3)", async () => {
    const ws = new WebSocket(`${G.replace("http", "ws")}/v1/operators/desk/connect?access_token=${KEYS.a}`);
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener("message", (ev) => JSON.parse(String(ev.data)).type === "registered" && resolve());
      ws.addEventListener("close", () => reject(new Error("A's operator was refused")));
    });
    try {
      expect(await upgradeStatus("/v1/operators/desk/connect", KEYS.b)).toBe(403);
      expect(((await call("GET", "/v1/operators", KEYS.b)).body.items as { id: string }[]).map((o) => o.id)).not.toContain("desk");
      expect(((await call("GET", "/v1/operators", KEYS.a)).body.items as { id: string }[]).map((o) => o.id)).toContain("desk");
      // B's agents cannot name A's operator either.
      const agent = await call("PUT", "/v1/agents/steal", KEYS.b, { kind: "operator", operator_ref: "desk" });
      expect(agent.status).toBe(400);
      expect(agent.body.error.details).toEqual([{ path: "operator_ref", message: "no operator 'desk' is registered" }]);
    } finally {
      ws.close();
    }
  });
});

describe("stored keys (./switchyard keys)", () => {
  const keys = (...args: string[]) =>
    run(process.execPath, [path.join(REPO, "scripts/keys.ts"), ...args], { env: { ...process.env, NATS_URL: fleet.natsUrl } });

  it("a created key works at once on a running gateway with its scopes only, and a revoked one is refused", async () => {
    const created = await keys("create", "--tenant", "gamma", "--scope", "tasks:read,agents:read", "--description", "e2e");
    const key = created.stdout.trim();
    expect(key).toMatch(/^sy_[0-9a-f]{16}_/);
    const id = key.slice(3, 19);
    const listed = (await keys("ls", "--tenant", "gamma")).stdout;
    expect(listed).toContain(id);
    expect(listed).not.toContain(key.slice(20)); // never the secret
    const list = await eventually(
      async () => {
        const r = await call("GET", "/v1/tasks", key);
        return r.status === 200 ? r : null;
      },
      10_000,
      "the new key to be accepted",
    );
    expect(list.body.items).toEqual([]); // gamma has no tasks; acme's are not listed
    expect((await call("POST", "/v1/tasks", key, { agent: "hello", input: "x" })).status).toBe(403);
    expect((await call("GET", "/v1/tasks", `${key.slice(0, -1)}${key.endsWith("A") ? "B" : "A"}`)).status).toBe(401);
    await keys("revoke", id);
    await eventually(async () => (await call("GET", "/v1/tasks", key)).status === 401, 10_000, "the revoked key to be refused");
    await expect(keys("create", "--tenant", "gamma", "--scope", "tasks:fly")).rejects.toMatchObject({
      stderr: expect.stringContaining("unknown scope 'tasks:fly'"),
    });
  });
});
