// Hostile input over real processes: malformed, truncated, oversized and prototype-polluting
// payloads on every HTTP route and every NATS subject the fleet listens on. Each must get a
// clear 4xx JSON problem (HTTP) or be dropped with a log line and a counted metric (NATS);
// no service crashes, no message wedges a queue, and no task is created or changed by them.
import net from "node:net";
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { SubmitTaskBody } from "@switchyard/contracts";
import { type Fleet, freePort, type ServiceProcess, startFleet, startService } from "@switchyard/devkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, http } from "../src/http.ts";
import { readStream } from "../src/sse.ts";

let fleet: Fleet;
let G: string;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
/** A task that completed before the barrage; nothing hostile may change its record. */
let doneTask: { id: string; record: unknown };

const BODY_LIMIT = 2 * 1024 * 1024; // the gateway's default BODY_LIMIT_BYTES
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;
const enc = new TextEncoder();

const AGENTS = {
  // A normal task: a tool round, then an answer that quotes the input.
  "hostile-echo": {
    model: "scripted",
    tools: ["echo"],
    script: [{ text: "Checking.", tool: { name: "echo", args: { q: "{{input}}" } } }, { text: "Done: {{input}}" }],
  },
  // What fuzzed submits run: one short round that does not repeat the (possibly large) input.
  "hostile-fuzz": { model: "scripted", script: [{ text: "ok" }], executor_overrides: ["local"] },
  // Two 1.5 s rounds: running long enough to forge reports and control messages against it.
  "hostile-slow": {
    model: "scripted",
    tools: ["sleep"],
    script: [
      { text: "one", tool: { name: "sleep", args: { ms: 1500 } } },
      { text: "two", tool: { name: "sleep", args: { ms: 1500 } } },
      { text: "genuine {{input}}" },
    ],
  },
};

const services = (): ServiceProcess[] => [fleet.services.spawner, fleet.services.kernel, fleet.services.gateway, ...fleet.services.runners];

async function submitOk(agent: string, input: unknown): Promise<string> {
  const res = await http("POST", `${G}/v1/tasks`, { agent, input });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.id as string;
}

/** Every task id the tenant can list (all pages). */
async function listTaskIds(): Promise<Set<string>> {
  const ids = new Set<string>();
  let cursor = "";
  for (;;) {
    const res = await http("GET", `${G}/v1/tasks?limit=500${cursor ? `&cursor=${cursor}` : ""}`);
    expect(res.status).toBe(200);
    for (const t of res.body.items as { id: string }[]) ids.add(t.id);
    if (!res.body.next_cursor) return ids;
    cursor = res.body.next_cursor;
  }
}

/** Processes alive, readiness green, and a normal task still runs to completion with its answer. */
async function expectFleetIntact(what: string): Promise<void> {
  for (const s of services()) expect(s.isRunning(), `${s.label} is still running after ${what}`).toBe(true);
  const ready = await http("GET", `${G}/readyz`);
  expect(ready.status, JSON.stringify(ready.body)).toBe(200);
  const id = await submitOk("hostile-echo", `after ${what}`);
  const events = await readStream(`${G}/v1/tasks/${id}/events`);
  expect(events.at(-1)?.data.data).toMatchObject({ status: "completed", result: { text: `Done: after ${what}` } });
}

async function metricsText(url: string): Promise<string> {
  const res = await fetch(url);
  expect(res.status, url).toBe(200);
  return res.text();
}

/** The value of one sample in Prometheus text, 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    const body = line.slice(name.length + 1, line.lastIndexOf("}"));
    if (Object.entries(labels).every(([k, v]) => body.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return 0;
}

beforeAll(async () => {
  // COMMAND_RETRY_MS: commands that cannot be handled yet come back quickly (see the last test).
  fleet = await startFleet({ runnerNodes: 1, env: { LOG_LEVEL: "info", METRICS_PORT: "0", COMMAND_RETRY_MS: "200" } });
  G = fleet.gatewayUrl;
  for (const [name, def] of Object.entries(AGENTS)) {
    const res = await http("PUT", `${G}/v1/agents/${name}`, def);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  }
  const id = await submitOk("hostile-echo", "before");
  const events = await readStream(`${G}/v1/tasks/${id}/events`);
  expect(events.at(-1)?.data.data.status).toBe("completed");
  doneTask = { id, record: (await http("GET", `${G}/v1/tasks/${id}`)).body };
  nc = await connect({ servers: fleet.natsUrl, name: "hostile-input-test" });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
});

afterAll(async () => {
  await nc?.close();
  await fleet?.stop();
});

// ---------------------------------------------------------------- HTTP

interface HttpCase {
  name: string;
  method: string;
  path: string;
  /** A string is sent as is; anything else as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Sent over a bare socket, byte for byte (paths fetch would normalise, bytes it refuses). */
  raw?: string;
  status: number;
  /** The error message must name this (the field, header or parameter that is wrong). */
  names?: string;
}

/** One HTTP/1.1 exchange over a bare socket; the request should carry `Connection: close`. */
function rawHttp(base: string, request: string): Promise<{ status: number; contentType: string; body: unknown }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error("raw request timed out")));
    socket.on("data", (c) => chunks.push(c));
    socket.on("error", reject);
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const [head = "", body = ""] = text.split("\r\n\r\n", 2);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      const contentType = /\r\ncontent-type: *([^\r\n]*)/i.exec(head)?.[1] ?? "";
      let parsed: unknown = body;
      try {
        parsed = JSON.parse(body);
      } catch {
        /* kept as text: the assertions say what was expected */
      }
      resolve({ status, contentType, body: parsed });
    });
    socket.end(request);
  });
}

const T = "/v1/tasks";
const A = "/v1/agents";
const UNKNOWN_TASK = "0190a0b0-1234-7abc-8def-0123456789ab";
const validSubmit = { agent: "hostile-echo", input: "x" };
const submit = (body: unknown, extra: Partial<HttpCase> & { name: string; status: number }): HttpCase => ({ method: "POST", path: T, body, ...extra });
const deep = (levels: number) => `${'{"a":'.repeat(levels)}1${"}".repeat(levels)}`;

function httpCases(): HttpCase[] {
  const id = doneTask.id;
  const events = `${T}/${id}/events`;
  const scripted = { model: "scripted", script: [{ text: "hi" }] };
  return [
    // POST /v1/tasks: the body
    submit("[1,2]", { name: "body is a JSON array", status: 400, names: "task" }),
    submit("null", { name: "body is null", status: 400, names: "task" }),
    submit("42", { name: "body is a number", status: 400, names: "task" }),
    submit('"run it"', { name: "body is a string", status: 400, names: "task" }),
    submit({}, { name: "empty object", status: 400, names: "agent" }),
    submit({ agent: 7, input: "x" }, { name: "agent is a number", status: 400, names: "agent" }),
    submit({ agent: "Hostile-Echo", input: "x" }, { name: "agent with capitals", status: 400, names: "agent" }),
    submit({ agent: "hostile-😀", input: "x" }, { name: "emoji in agent", status: 400, names: "agent" }),
    submit('{"agent":"hostile\\ud800echo","input":"x"}', { name: "lone surrogate in agent", status: 400, names: "agent" }),
    submit({ agent: "hostile-echo\u0000", input: "x" }, { name: "NUL in agent", status: 400, names: "agent" }),
    submit({ agent: "\u202ehostile-echo", input: "x" }, { name: "RTL override in agent", status: 400, names: "agent" }),
    submit({ agent: "a".repeat(65), input: "x" }, { name: "agent of 65 characters", status: 400, names: "agent" }),
    submit({ agent: "hostile-echo", input: { text: "x" } }, { name: "input is an object", status: 400, names: "input" }),
    submit({ agent: "hostile-echo", input: [] }, { name: "input is an empty conversation", status: 400, names: "input" }),
    submit({ agent: "hostile-echo", input: [{ role: "root", content: "x" }] }, { name: "input with an unknown role", status: 400, names: "input" }),
    submit({ ...validSubmit, executor: { type: "remote" } }, { name: "remote executor without a runner", status: 400, names: "executor" }),
    submit(
      { ...validSubmit, executor: { type: "remote", runner: { kind: "../etc" } } },
      { name: "runner kind with a path", status: 400, names: "executor.runner.kind" },
    ),
    submit({ ...validSubmit, metadata: ["a"] }, { name: "metadata is an array", status: 400, names: "metadata" }),
    submit({ ...validSubmit, priority: 9 }, { name: "unknown top-level key", status: 400, names: "priority" }),
    submit('{"agent":"hostile-echo","input":"x","__proto__":{"admin":true}}', { name: "__proto__ at the top", status: 400, names: "__proto__" }),
    submit('{"agent":"hostile-echo","input":"x","metadata":{"__proto__":{"admin":true}}}', {
      name: "__proto__ in metadata",
      status: 400,
      names: "metadata.__proto__",
    }),
    submit('{"agent":"hostile-echo","input":"x","metadata":{"constructor":{"prototype":{"admin":true}}}}', {
      name: "constructor.prototype in metadata",
      status: 400,
      names: "constructor.prototype",
    }),
    submit(`{"agent":"hostile-echo","input":"x","metadata":${deep(10_000)}}`, { name: "10 000 levels of nesting", status: 400, names: "nests deeper" }),
    submit(`${"[".repeat(100_000)}${"]".repeat(100_000)}`, { name: "100 000 nested arrays", status: 400, names: "nests deeper" }),
    submit('{"agent":"hostile-echo","inp', { name: "truncated JSON", status: 400, names: "not valid JSON" }),
    submit('{"agent":"hostile-echo","input":"x"}}', { name: "trailing garbage", status: 400, names: "not valid JSON" }),
    submit("", { name: "empty body", status: 400, names: "empty" }),
    submit({ agent: "hostile-echo", input: "x".repeat(BODY_LIMIT + 10) }, { name: "body over BODY_LIMIT_BYTES", status: 413 }),
    submit({ ...validSubmit, metadata: { blob: "m".repeat(1_500_000) } }, { name: "command over NATS max_payload", status: 413 }),
    submit(JSON.stringify(validSubmit), { name: "text/plain", status: 415, headers: { "content-type": "text/plain" }, names: "content-type" }),
    submit(JSON.stringify(validSubmit), {
      name: "charset utf-16",
      status: 415,
      headers: { "content-type": "application/json; charset=utf-16" },
      names: "charset",
    }),
    submit(JSON.stringify(validSubmit), {
      name: "form encoding",
      status: 415,
      headers: { "content-type": "application/x-www-form-urlencoded" },
      names: "content-type",
    }),
    submit(validSubmit, { name: "Idempotency-Key of 300 characters", status: 400, headers: { "idempotency-key": "k".repeat(300) }, names: "Idempotency-Key" }),
    submit(validSubmit, { name: "Idempotency-Key with a tab", status: 400, headers: { "idempotency-key": "a\tb" }, names: "Idempotency-Key" }),
    submit(validSubmit, { name: "Idempotency-Key with latin-1", status: 400, headers: { "idempotency-key": "clé" }, names: "Idempotency-Key" }),
    submit(validSubmit, { name: "20 KB header", status: 431, headers: { "x-padding": "p".repeat(20_000) } }),
    {
      name: "Idempotency-Key with a control byte",
      method: "POST",
      path: T,
      raw: `POST ${T} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nIdempotency-Key: a\x01b\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`,
      status: 400,
    },
    {
      name: "Content-Length far over the limit",
      method: "POST",
      path: T,
      raw: `POST ${T} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99999999\r\nConnection: close\r\n\r\n{`,
      status: 413,
    },
    { name: "garbage request line", method: "GET", path: "(none)", raw: "HELLO THERE\r\n\r\n", status: 400 },
    // GET /v1/tasks/:id
    { name: "task id not a UUID", method: "GET", path: `${T}/not-a-task`, status: 400, names: "task id" },
    { name: "task id %00", method: "GET", path: `${T}/%00`, status: 400, names: "task id" },
    {
      name: "task id ..",
      method: "GET",
      path: `${T}/..`,
      raw: `GET ${T}/%2e%2e HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      status: 400,
      names: "task id",
    },
    {
      name: "path traversal",
      method: "GET",
      path: `${T}/../..`,
      raw: `GET ${T}/../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      status: 404,
    },
    { name: "task id of 400 characters", method: "GET", path: `${T}/${"a".repeat(400)}`, status: 400, names: "task id" },
    { name: "task id of 5000 characters", method: "GET", path: `${T}/${"a".repeat(5000)}`, status: 414 },
    { name: "bad percent-encoding", method: "GET", path: `${T}/%E0%A4%A`, status: 400, names: "URL" },
    { name: "unknown task", method: "GET", path: `${T}/${UNKNOWN_TASK}`, status: 404 },
    // GET /v1/tasks
    { name: "limit=100000", method: "GET", path: `${T}?limit=100000`, status: 400, names: "limit" },
    { name: "limit=0", method: "GET", path: `${T}?limit=0`, status: 400, names: "limit" },
    { name: "limit=abc", method: "GET", path: `${T}?limit=abc`, status: 400, names: "limit" },
    { name: "limit twice", method: "GET", path: `${T}?limit=1&limit=2`, status: 400, names: "limit" },
    { name: "status=bogus", method: "GET", path: `${T}?status=bogus`, status: 400, names: "status" },
    { name: "agent=BAD", method: "GET", path: `${T}?agent=BAD`, status: 400, names: "agent" },
    { name: "cursor of 200 characters", method: "GET", path: `${T}?cursor=${"c".repeat(200)}`, status: 400, names: "cursor" },
    { name: "__proto__ in the query", method: "GET", path: `${T}?__proto__=1`, status: 400, names: "__proto__" },
    // GET /v1/tasks/:id/events
    { name: "after=-1", method: "GET", path: `${events}?after=-1`, status: 400, names: "after" },
    { name: "after=abc", method: "GET", path: `${events}?after=abc`, status: 400, names: "after" },
    { name: "after=1e400", method: "GET", path: `${events}?after=1e400`, status: 400, names: "after" },
    { name: "Last-Event-ID garbage", method: "GET", path: events, headers: { "last-event-id": "seven" }, status: 400, names: "Last-Event-ID" },
    { name: "Last-Event-ID negative", method: "GET", path: events, headers: { "last-event-id": "-5" }, status: 400, names: "Last-Event-ID" },
    { name: "Last-Event-ID of 20 digits", method: "GET", path: events, headers: { "last-event-id": "9".repeat(20) }, status: 400, names: "Last-Event-ID" },
    { name: "events of a bad id", method: "GET", path: `${T}/%00/events`, status: 400, names: "task id" },
    // POST /v1/tasks/:id/cancel
    { name: "cancel a bad id", method: "POST", path: `${T}/..%2f/cancel`, status: 400, names: "task id" },
    { name: "cancel with text/plain", method: "POST", path: `${T}/${id}/cancel`, body: "stop", headers: { "content-type": "text/plain" }, status: 415 },
    { name: "cancel with deep nesting", method: "POST", path: `${T}/${id}/cancel`, body: deep(5000), status: 400, names: "nests deeper" },
    { name: "cancel with __proto__", method: "POST", path: `${T}/${id}/cancel`, body: '{"__proto__":{"reason":"x"}}', status: 400, names: "__proto__" },
    { name: "cancel a finished task", method: "POST", path: `${T}/${id}/cancel`, status: 409 },
    // POST /v1/tasks/:id/approvals and /tool-results
    { name: "approve with text/plain", method: "POST", path: `${T}/${id}/approvals`, body: "yes", headers: { "content-type": "text/plain" }, status: 415 },
    { name: "approve without a body", method: "POST", path: `${T}/${id}/approvals`, status: 400, names: "approval" },
    {
      name: "approve with __proto__",
      method: "POST",
      path: `${T}/${id}/approvals`,
      body: '{"__proto__":{"decision":"approve"}}',
      status: 400,
      names: "__proto__",
    },
    {
      name: "approve with decision maybe",
      method: "POST",
      path: `${T}/${id}/approvals`,
      body: { call_id: "c", decision: "maybe" },
      status: 400,
      names: "decision",
    },
    { name: "approve without call_id", method: "POST", path: `${T}/${id}/approvals`, body: { decision: "approve" }, status: 400, names: "call_id" },
    {
      name: "approve with a call_id of 500 characters",
      method: "POST",
      path: `${T}/${id}/approvals`,
      body: { call_id: "c".repeat(500), decision: "approve" },
      status: 400,
      names: "call_id",
    },
    {
      name: "approve with an extra field",
      method: "POST",
      path: `${T}/${id}/approvals`,
      body: { call_id: "c", decision: "approve", sudo: 1 },
      status: 400,
      names: "sudo",
    },
    { name: "approve a bad id", method: "POST", path: `${T}/%00/approvals`, body: { call_id: "c", decision: "approve" }, status: 400, names: "task id" },
    { name: "approve an unknown task", method: "POST", path: `${T}/${UNKNOWN_TASK}/approvals`, body: { call_id: "c", decision: "approve" }, status: 404 },
    { name: "approve a finished task", method: "POST", path: `${T}/${id}/approvals`, body: { call_id: "c", decision: "approve" }, status: 409 },
    {
      name: "tool result with neither result nor error",
      method: "POST",
      path: `${T}/${id}/tool-results`,
      body: { call_id: "c" },
      status: 400,
      names: "result",
    },
    {
      name: "tool result with both result and error",
      method: "POST",
      path: `${T}/${id}/tool-results`,
      body: { call_id: "c", result: 1, error: "x" },
      status: 400,
      names: "result",
    },
    {
      name: "tool result with deep nesting",
      method: "POST",
      path: `${T}/${id}/tool-results`,
      body: `{"call_id":"c","result":${deep(5000)}}`,
      status: 400,
      names: "nests deeper",
    },
    {
      name: "tool result error of a wrong type",
      method: "POST",
      path: `${T}/${id}/tool-results`,
      body: { call_id: "c", error: 42 },
      status: 400,
      names: "error",
    },
    { name: "tool result for a finished task", method: "POST", path: `${T}/${id}/tool-results`, body: { call_id: "c", result: null }, status: 409 },
    // Agents
    { name: "PUT agent with capitals", method: "PUT", path: `${A}/Bad`, body: scripted, status: 400, names: "agent name" },
    { name: "PUT agent emoji name", method: "PUT", path: `${A}/%F0%9F%98%80`, body: scripted, status: 400, names: "agent name" },
    { name: "PUT agent body array", method: "PUT", path: `${A}/hostile-x`, body: "[]", status: 400, names: "agent definition" },
    { name: "PUT agent body null", method: "PUT", path: `${A}/hostile-x`, body: "null", status: 400, names: "agent definition" },
    { name: "PUT agent model is a number", method: "PUT", path: `${A}/hostile-x`, body: { model: 5 }, status: 400, names: "model" },
    { name: "PUT scripted agent without script", method: "PUT", path: `${A}/hostile-x`, body: { model: "scripted" }, status: 400, names: "script" },
    { name: "PUT agent unknown field", method: "PUT", path: `${A}/hostile-x`, body: { ...scripted, sudo: true }, status: 400, names: "sudo" },
    { name: "PUT agent name mismatch", method: "PUT", path: `${A}/hostile-x`, body: { ...scripted, name: "other" }, status: 400, names: "name" },
    {
      name: "PUT agent __proto__",
      method: "PUT",
      path: `${A}/hostile-x`,
      body: '{"model":"scripted","__proto__":{"tools":["rm"]}}',
      status: 400,
      names: "__proto__",
    },
    {
      name: "PUT agent of 1.5 MB",
      method: "PUT",
      path: `${A}/hostile-x`,
      body: { model: "scripted", script: [{ text: "t".repeat(1_500_000) }] },
      status: 413,
    },
    { name: "GET agent %00", method: "GET", path: `${A}/%00`, status: 400, names: "agent name" },
    { name: "GET agent of 65 characters", method: "GET", path: `${A}/${"a".repeat(65)}`, status: 400, names: "agent name" },
    { name: "GET unknown agent", method: "GET", path: `${A}/hostile-nobody`, status: 404 },
    { name: "GET /v1/agents 20 KB header", method: "GET", path: A, headers: { "x-padding": "p".repeat(20_000) }, status: 431 },
    {
      name: "DELETE agent ..",
      method: "DELETE",
      path: `${A}/..`,
      raw: `DELETE ${A}/%2e%2e HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      status: 400,
      names: "agent name",
    },
    { name: "DELETE agent with capitals", method: "DELETE", path: `${A}/HOSTILE-ECHO`, status: 400, names: "agent name" },
    // Runners and unknown routes
    { name: "POST /v1/runners", method: "POST", path: "/v1/runners", body: {}, status: 404 },
    { name: "GET /v1/runners/x", method: "GET", path: "/v1/runners/x", status: 404 },
    { name: "GET /v1/runners 20 KB header", method: "GET", path: "/v1/runners", headers: { cookie: "c".repeat(20_000) }, status: 431 },
  ];
}

/** Counts of answered cases by status code, for the summary line. */
function tally(statuses: number[]): string {
  const counts = new Map<number, number>();
  for (const s of [...statuses].sort()) counts.set(s, (counts.get(s) ?? 0) + 1);
  return [...counts].map(([s, n]) => `${s}×${n}`).join(" ");
}

/** POST /v1/tasks answers refused as malformed (what the gateway must count in sy_invalid_input_total). */
let rejectedSubmits = 0;
/** Task ids the fuzzer's valid submits created. */
const fuzzAccepted = new Set<string>();
let tasksBeforeFuzz: Set<string>;

function expectProblem(c: { name: string }, status: number, contentType: string, body: unknown): { code: string; message: string } {
  const where = `${c.name}: ${status} ${JSON.stringify(body).slice(0, 300)}`;
  expect(status, where).toBeGreaterThanOrEqual(400);
  expect(status, where).toBeLessThan(500);
  expect(contentType, where).toMatch(/^application\/json/);
  const error = (body as { error?: { code?: unknown; message?: unknown } }).error;
  expect(typeof error?.code, where).toBe("string");
  expect(typeof error?.message, where).toBe("string");
  return error as { code: string; message: string };
}

describe("HTTP", () => {
  it("answers every hostile request with a 4xx JSON problem that names what is wrong", async () => {
    const cases = httpCases();
    expect(cases.length).toBeGreaterThanOrEqual(40);
    const statuses: number[] = [];
    for (const c of cases) {
      let status: number;
      let contentType: string;
      let body: unknown;
      if (c.raw !== undefined) {
        ({ status, contentType, body } = await rawHttp(G, c.raw));
      } else {
        const res = await http(c.method, `${G}${c.path}`, c.body, c.headers ?? {});
        ({ status, body } = res);
        contentType = res.headers.get("content-type") ?? "";
      }
      statuses.push(status);
      const error = expectProblem(c, status, contentType, body);
      expect(status, `${c.name}: ${JSON.stringify(body).slice(0, 300)}`).toBe(c.status);
      if (c.names) expect(error.message, `${c.name}: the message names ${c.names}`).toContain(c.names);
      // Refusals fastify saw (not those of Node's HTTP parser) are counted under their route.
      if (c.method === "POST" && c.path === T && [400, 413, 415].includes(status) && !c.raw?.includes("\x01")) rejectedSubmits++;
    }
    const fiveXX = statuses.filter((s) => s >= 500).length;
    console.log(`[hostile] http: ${cases.length} cases, ${fiveXX} 5xx (${tally(statuses)})`);
  });

  it("answers hostile credentials on a gateway that requires keys with 401/403/400 JSON problems", async () => {
    const port = await freePort();
    const secured = await startService("gateway", {
      env: { NATS_URL: fleet.natsUrl, REDIS_URL: fleet.redisUrl, PORT: String(port), API_KEYS: "good-token:acme,reader:acme:tasks:read" },
      label: "gateway-keys",
    });
    try {
      const S = `http://127.0.0.1:${port}`;
      const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
      const cases: HttpCase[] = [
        { name: "no Authorization", method: "GET", path: T, status: 401, names: "bearer token" },
        { name: "empty bearer", method: "GET", path: T, headers: { authorization: "Bearer " }, status: 401 },
        { name: "Basic scheme", method: "GET", path: T, headers: { authorization: "Basic Z29vZC10b2tlbjo=" }, status: 401 },
        { name: "bearer of 8 KB", method: "GET", path: T, headers: bearer("t".repeat(8192)), status: 401 },
        { name: "stored-key shape, wrong secret", method: "GET", path: T, headers: bearer(`sy_0123456789abcdef_${"A".repeat(43)}`), status: 401 },
        { name: "a tenant name as the token", method: "GET", path: T, headers: bearer("acme"), status: 401 },
        { name: "?access_token= on a plain request", method: "GET", path: `${T}?access_token=good-token`, status: 401 },
        { name: "submit without the scope", method: "POST", path: T, body: validSubmit, headers: bearer("reader"), status: 403, names: "tasks:write" },
        { name: "runners without admin", method: "GET", path: "/v1/runners", headers: bearer("reader"), status: 403, names: "admin" },
        {
          name: "control byte in Authorization",
          method: "GET",
          path: T,
          raw: `GET ${T} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer good\x01token\r\nConnection: close\r\n\r\n`,
          status: 400,
        },
        {
          name: "huge body without a key",
          method: "POST",
          path: T,
          raw: `POST ${T} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99999999\r\nConnection: close\r\n\r\n{`,
          status: 401,
        },
      ];
      for (const c of cases) {
        let status: number;
        let contentType: string;
        let body: unknown;
        if (c.raw !== undefined) ({ status, contentType, body } = await rawHttp(S, c.raw));
        else {
          const res = await http(c.method, `${S}${c.path}`, c.body, c.headers ?? {});
          ({ status, body } = res);
          contentType = res.headers.get("content-type") ?? "";
        }
        const error = expectProblem(c, status, contentType, body);
        expect(status, `${c.name}: ${JSON.stringify(body).slice(0, 300)}`).toBe(c.status);
        if (c.names) expect(error.message, `${c.name}: the message names ${c.names}`).toContain(c.names);
      }
      // The right key still works after all that.
      expect((await http("GET", `${S}${T}`, undefined, bearer("good-token"))).status).toBe(200);
      console.log(`[hostile] auth: ${cases.length} cases, no 5xx`);
    } finally {
      await secured.stop();
    }
  });

  it("never answers 5xx to 300 fuzzed submits, and accepts exactly the valid ones", async () => {
    tasksBeforeFuzz = await listTaskIds();
    const rand = mulberry32(0x5eed);
    const outcomes: number[] = [];
    let valid = 0;
    for (let i = 0; i < 300; i++) {
      const f = fuzzSubmit(rand);
      const res = await http("POST", `${G}${T}`, f.text, { "content-type": f.contentType, ...f.headers });
      outcomes.push(res.status);
      const where = `fuzz #${i} (${f.mutations.join(", ")}): ${res.status} ${JSON.stringify(res.body).slice(0, 300)}; body ${f.text.slice(0, 200)}`;
      expect(res.status, where).toBeLessThan(500);
      const shouldAccept = expectedValid(f);
      if (shouldAccept) {
        valid++;
        expect(res.status, where).toBe(202);
        fuzzAccepted.add(res.body.id);
      } else {
        expectProblem({ name: where }, res.status, res.headers.get("content-type") ?? "", res.body);
        if ([400, 413, 415].includes(res.status)) rejectedSubmits++;
      }
    }
    console.log(`[hostile] fuzz: 300 bodies (seed 0x5eed), ${valid} valid → 202, ${300 - valid} refused (${tally(outcomes)}), 0 5xx`);
  });

  it("leaves the fleet intact: every process up, ready, no task from a refused submit, and a normal task completes", async () => {
    const after = await listTaskIds();
    const created = [...after].filter((id) => !tasksBeforeFuzz.has(id)).sort();
    expect(created, "tasks created during the fuzz are exactly the accepted ones").toEqual([...fuzzAccepted].sort());
    expect((await http("GET", `${G}${T}/${doneTask.id}`)).body).toEqual(doneTask.record);
    await expectFleetIntact("the HTTP barrage");
  });

  it("counts refused requests by route in /metrics, never by raw URL", async () => {
    const text = await metricsText(`${G}/metrics`);
    expect(sample(text, "sy_invalid_input_total", { source: "POST /v1/tasks", service: "gateway" })).toBe(rejectedSubmits);
    expect(sample(text, "sy_invalid_input_total", { source: "GET /v1/tasks/:id/events" })).toBeGreaterThanOrEqual(7);
    expect(sample(text, "sy_invalid_input_total", { source: "PUT /v1/agents/:name" })).toBeGreaterThanOrEqual(10);
    expect(sample(text, "sy_http_requests_total", { method: "POST", route: "/v1/tasks", status_code: "400" })).toBeGreaterThan(0);
    expect(sample(text, "sy_http_requests_total", { method: "POST", route: "/v1/tasks", status_code: "202" })).toBeGreaterThanOrEqual(fuzzAccepted.size);
    expect(sample(text, "sy_http_request_duration_seconds_count", { method: "GET", route: "/v1/tasks/:id" })).toBeGreaterThan(0);
    const labelled = text.split("\n").filter((l) => l.startsWith("sy_http_") || l.startsWith("sy_invalid_input"));
    expect(
      labelled.filter((l) => UUID.test(l) || l.includes("aaaaaaaaaa") || l.includes("%")),
      "no raw URL in a label",
    ).toEqual([]);
    console.log(`[hostile] gateway metrics: ${rejectedSubmits} refused submits counted under source="POST /v1/tasks"`);
  });
});

// ---------------------------------------------------------------- fuzzer

interface Fuzzed {
  text: string;
  contentType: string;
  headers: Record<string, string>;
  mutations: string[];
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const JUNK_STRINGS = [
  "\ud800",
  "\udfff",
  "\u0000",
  "\u202e",
  "\u200b",
  "😀",
  "\uffff",
  "e\u0301",
  "\u{10ffff}",
  "x".repeat(70),
  "",
  " ",
  "../..",
  "a.b",
  "*",
  ">",
];

function fuzzSubmit(rand: () => number): Fuzzed {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const junkValue = (): unknown => pick([0, -1, 1.5, true, false, null, [], {}, "", pick(JUNK_STRINGS), [1, "a"], { k: "v" }, 2 ** 53 + 1]);
  // Deep values are spliced into the text: JSON.stringify itself overflows the stack at 10 000 levels.
  const deepValues = new Map<string, string>();
  const nest = (levels: number, leaf: string): string => {
    const marker = `@deep${deepValues.size}@`;
    let text = leaf;
    for (let i = 0; i < levels; i++) text = rand() < 0.5 ? `[${text}]` : `{"n":${text}}`;
    deepValues.set(marker, text);
    return marker;
  };
  const body: Record<string, unknown> = { agent: "hostile-fuzz", input: "fuzz" };
  if (rand() < 0.3) body.executor = { type: "local" };
  if (rand() < 0.3) body.metadata = { source: "fuzz" };
  const mutations: string[] = [];
  const headers: Record<string, string> = {};
  let contentType = "application/json";
  let truncateAt: number | undefined;
  const count = 1 + Math.floor(rand() * 3);
  for (let m = 0; m < count; m++) {
    const op = pick([
      "type-swap",
      "drop-key",
      "unknown-key",
      "junk-agent",
      "junk-input",
      "deep",
      "proto",
      "constructor",
      "huge-array",
      "conversation",
      "truncate",
      "huge-string",
      "executor",
      "content-type",
      "idempotency",
    ] as const);
    mutations.push(op);
    switch (op) {
      case "type-swap":
        body[pick(["agent", "input", "executor", "metadata"])] = junkValue();
        break;
      case "drop-key":
        delete body[pick(["agent", "input"])];
        break;
      case "unknown-key":
        body[pick(["tenant", "status", "id", "run_id", "Agent", ""])] = junkValue();
        break;
      case "junk-agent":
        body.agent = pick([`hostile-fuzz${pick(JUNK_STRINGS)}`, pick(JUNK_STRINGS), "hostile-nobody", "HOSTILE-FUZZ", "hostile-fuzz"]);
        break;
      case "junk-input": // odd unicode is a valid input: the task must be accepted and run
        body.input = Array.from({ length: 1 + Math.floor(rand() * 8) }, () => pick(JUNK_STRINGS)).join("");
        break;
      case "deep": {
        const levels = pick([5, 30, 61, 62, 63, 64, 100, 1000, 10_000]);
        const where = pick(["metadata", "executor-config", "input"]);
        if (where === "metadata") body.metadata = { deep: nest(levels, "1") };
        else if (where === "executor-config") body.executor = { type: "remote", runner: { kind: "local", config: { deep: nest(levels, "1") } } };
        else body.input = nest(levels, '"x"');
        break;
      }
      case "proto": {
        let target: Record<string, unknown> = body;
        if (rand() < 0.5) {
          target = {};
          body.metadata = target;
        }
        Object.defineProperty(target, "__proto__", { value: { polluted: true }, enumerable: true, configurable: true, writable: true });
        break;
      }
      case "constructor":
        body.metadata = { constructor: rand() < 0.7 ? { prototype: { polluted: true } } : { name: "fine" } };
        break;
      case "huge-array":
        if (rand() < 0.5) body.metadata = { list: Array.from({ length: pick([1000, 20_000]) }, (_, i) => i) };
        else body.input = Array.from({ length: pick([999, 1000, 1001, 5000]) }, () => ({ role: "user", content: "u" }));
        break;
      case "conversation":
        body.input = [{ role: pick(["user", "system", "assistant", "tool", "admin", ""]), content: rand() < 0.8 ? "hi" : junkValue() }];
        break;
      case "truncate":
        truncateAt = rand();
        break;
      case "huge-string":
        if (rand() < 0.85) body.input = "s".repeat(pick([10_000, 100_000]));
        else body.input = "S".repeat(BODY_LIMIT); // over the body limit: 413
        break;
      case "executor":
        body.executor = pick([
          { type: "local" },
          { type: "remote", runner: { kind: "local" } },
          { type: "remote", runner: { kind: "GPU" } },
          { type: "remote" },
          { type: "local", runner: { kind: "local" } },
          { type: "cloud" },
          "local",
        ]);
        break;
      case "content-type":
        contentType = pick(["text/plain", "application/json; charset=latin1", "application/xml", "application/json; charset=utf-8"]);
        break;
      case "idempotency":
        headers["idempotency-key"] = pick([`fuzz-${Math.floor(rand() * 1e9)}`, "k".repeat(257), "tab\there", "ünï", `fuzz-${Math.floor(rand() * 1e9)}`]);
        break;
    }
  }
  let text = JSON.stringify(body);
  for (const [marker, deepText] of deepValues) text = text.replace(`"${marker}"`, deepText);
  if (truncateAt !== undefined) text = text.slice(0, Math.floor(truncateAt * text.length));
  return { text, contentType, headers, mutations };
}

/** The oracle, written independently of the gateway: what a correct gateway must accept. */
function expectedValid(f: Fuzzed): boolean {
  if (!/^application\/json(; charset=utf-8)?$/.test(f.contentType)) return false;
  if (Buffer.byteLength(f.text) > BODY_LIMIT) return false;
  const key = f.headers["idempotency-key"];
  if (key !== undefined && !/^[\x21-\x7e]{1,256}$/.test(key)) return false;
  let value: unknown;
  try {
    value = JSON.parse(f.text);
  } catch {
    return false;
  }
  if (depthOf(value) > 64 || hasPrototypeKey(value)) return false;
  const parsed = SubmitTaskBody.safeParse(value);
  return parsed.success && parsed.data.agent === "hostile-fuzz";
}

/** Nesting depth of objects and arrays, and whether a prototype key occurs anywhere; iterative (values may be 10 000 deep). */
function depthOf(root: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[root, 0]];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const [v, d] = item;
    if (v === null || typeof v !== "object") continue;
    max = Math.max(max, d + 1);
    for (const c of Array.isArray(v) ? v : Object.values(v)) stack.push([c, d + 1]);
  }
  return max;
}

function hasPrototypeKey(root: unknown): boolean {
  const stack: unknown[] = [root];
  while (stack.length) {
    const v = stack.pop();
    if (v === null || typeof v !== "object") continue;
    for (const [k, c] of Object.entries(v)) {
      if (!Array.isArray(v) && (k === "__proto__" || (k === "constructor" && c !== null && typeof c === "object" && Object.hasOwn(c, "prototype"))))
        return true;
      stack.push(c);
    }
  }
  return false;
}

// ---------------------------------------------------------------- NATS

const CMD_SUBJECTS = [
  "sy.cmd.submit",
  "sy.cmd.cancel",
  "sy.cmd.answer",
  "sy.cmd.run.checkpoint",
  "sy.cmd.run.finished",
  "sy.cmd.run.failed",
  "sy.cmd.run.released",
  "sy.cmd.dispatch",
  "sy.cmd.reap",
  "sy.cmd.bogus",
] as const;
const SPAWNER_SUBJECTS = ["sy.spawner.agents.put", "sy.spawner.agents.get", "sy.spawner.agents.list", "sy.spawner.agents.delete", "sy.spawner.plan"] as const;

/** Garbage every subject gets; none of it is a valid v1 message of any kind. */
function garbagePayloads(taskId: string): [string, Uint8Array][] {
  const text = (s: string) => enc.encode(s);
  const now = new Date().toISOString();
  // Valid for every schema except the version: an unknown version must be refused, not guessed at.
  const v2 = {
    v: 2,
    task_id: taskId,
    tenant: "default",
    agent: "hostile-echo",
    name: "hostile-echo",
    input: "x",
    submitted_at: now,
    run_id: "r",
    attempt: 1,
    kind: "local",
    node_id: "n",
    due_at: now,
    reason: "x",
    result: { text: "forged" },
    usage: { input_tokens: 0, output_tokens: 0, total_tokens: 0 },
    error: { code: "internal", message: "x", retryable: false },
    checkpoint: { round: 1, messages: [], usage: { input_tokens: 0, output_tokens: 0, total_tokens: 0 } },
  };
  return [
    ["not JSON", text("hello, kernel")],
    ["empty", new Uint8Array(0)],
    ["binary", new Uint8Array([0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28])],
    ["truncated JSON", text(`{"v":1,"task_id":"${taskId.slice(0, 10)}`)],
    ["null", text("null")],
    ["array", text("[1,2,3]")],
    ["wrong types", text(JSON.stringify({ v: "1", task_id: 42, run_id: [], attempt: "one", name: {}, agent: 7, input: false }))],
    ["unknown version v:2", text(JSON.stringify(v2))],
    ["__proto__ payload", text(`{"__proto__":{"v":1,"task_id":"${taskId}"},"constructor":{"prototype":{"v":1}}}`)],
    ["900 KB string", text(JSON.stringify("x".repeat(900_000)))],
    ["deep nesting", text(`${"[".repeat(10_000)}${"]".repeat(10_000)}`)],
    ["deep object", text(`{"v":${deep(10_000)},"task_id":"${taskId}"}`)],
  ];
}

describe("NATS", () => {
  let garbageCount = 0;
  const spawnerBadRequests: Record<string, number> = {};

  it("drops garbage on every command subject and work subject without wedging a queue", async () => {
    const payloads = garbagePayloads(doneTask.id);
    garbageCount = payloads.length;
    for (const subject of [...CMD_SUBJECTS, "sy.work.local"]) {
      for (const [, data] of payloads) await js.publish(subject, data);
    }
    // No stuck message: the kernel's command consumer and the local work consumer drain.
    await eventually(
      async () => {
        const [cmd, work] = await Promise.all([jsm.consumers.info("SY_CMD", "kernel"), jsm.consumers.info("SY_WORK", "work_local")]);
        return cmd.num_pending + cmd.num_ack_pending + work.num_pending + work.num_ack_pending === 0;
      },
      20_000,
      "SY_CMD (kernel) and SY_WORK (work_local) to drain",
    );
    for (const subject of CMD_SUBJECTS) {
      await fleet.services.kernel.waitForLog((l) => l.msg === "invalid command dropped" && l.subject === subject, 5000);
    }
    await fleet.services.runners[0]!.waitForLog((l) => l.msg === "invalid work item dropped", 5000);
    console.log(`[hostile] nats: ${payloads.length} payloads × ${CMD_SUBJECTS.length + 1} JetStream subjects dropped, SY_CMD and SY_WORK drained`);
  });

  it("answers garbage requests: the spawner with bad_request, the kernel's claim with nothing harmful", async () => {
    const payloads = garbagePayloads(doneTask.id);
    const decode = (data: Uint8Array) => JSON.parse(new TextDecoder().decode(data)) as { ok: boolean; error?: { code: string; message: string } };
    for (const subject of SPAWNER_SUBJECTS) {
      for (const [name, data] of payloads) {
        const reply = decode((await nc.request(subject, data, { timeout: 5000 })).data);
        expect(reply.ok, `${subject} ${name}`).toBe(false);
        expect(reply.error?.code, `${subject} ${name}: ${JSON.stringify(reply)}`).toBe("bad_request");
        expect(reply.error?.message.length, `${subject} ${name}`).toBeGreaterThan(0);
        spawnerBadRequests[subject] = (spawnerBadRequests[subject] ?? 0) + 1;
      }
    }
    // The kernel does not answer a malformed claim (a runner would time out and retry): it must not grant one.
    const claims = await Promise.all(
      payloads.map(([, data]) =>
        nc.request("sy.kernel.claim", data, { timeout: 1000 }).then(
          (m) => decode(m.data) as { granted?: boolean },
          () => null,
        ),
      ),
    );
    for (const c of claims) expect(c?.granted ?? false).toBe(false);
    // Nor a malformed round report: no verdict that would let a run go on.
    const rounds = await Promise.all(
      payloads.map(([, data]) =>
        nc.request("sy.kernel.round", data, { timeout: 1000 }).then(
          (m) => decode(m.data) as { verdict?: string },
          () => null,
        ),
      ),
    );
    for (const r of rounds) expect(r?.verdict ?? null).toBeNull();
    // Core publishes to control subjects: a task that does not run, and one that does not exist.
    for (const [, data] of payloads) {
      nc.publish(`sy.ctl.task.${doneTask.id}`, data);
      nc.publish(`sy.ctl.task.${UNKNOWN_TASK}`, data);
    }
    await nc.flush();
    console.log(
      `[hostile] nats requests: ${payloads.length} payloads × ${SPAWNER_SUBJECTS.length} spawner subjects → bad_request; ${claims.filter((c) => c === null).length}/${payloads.length} malformed claims unanswered, 0 granted; ${rounds.filter((r) => r === null).length}/${payloads.length} malformed round reports unanswered`,
    );
  });

  it("fences a forged, schema-valid report and ignores hostile control messages for a running task", async () => {
    const id = await submitOk("hostile-slow", "work");
    const running = await eventually(
      async () => {
        const t = (await http("GET", `${G}${T}/${id}`)).body;
        return t.status === "running" && t.run_id ? (t as { run_id: string; attempt: number }) : null;
      },
      10_000,
      "the slow task to run",
    );
    const forged = {
      v: 1,
      task_id: id,
      run_id: "forged-run",
      attempt: running.attempt,
      result: { text: "FORGED" },
      usage: { input_tokens: 1, output_tokens: 1, total_tokens: 2 },
    };
    // A schema-valid round report from a forged run: the kernel fences it instead of deciding.
    const forgedRound = { v: 1, task_id: id, run_id: "forged-run", attempt: running.attempt, round: 1, usage: forged.usage, calls: [], checkpoint: null };
    const verdict = JSON.parse(
      new TextDecoder().decode((await nc.request("sy.kernel.round", enc.encode(JSON.stringify(forgedRound)), { timeout: 5000 })).data),
    );
    expect(verdict).toMatchObject({ verdict: "stop", reason: "fenced" });
    await js.publish("sy.cmd.run.finished", enc.encode(JSON.stringify(forged)));
    await js.publish(
      "sy.cmd.run.failed",
      enc.encode(JSON.stringify({ ...forged, result: undefined, error: { code: "internal", message: "forged", retryable: false } })),
    );
    for (const [, data] of garbagePayloads(id)) nc.publish(`sy.ctl.task.${id}`, data);
    // Schema-valid, but for another run: the runner must not abort.
    nc.publish(`sy.ctl.task.${id}`, enc.encode(JSON.stringify({ v: 1, action: "abort", task_id: id, run_id: "forged-run", reason: "forged" })));
    await fleet.services.kernel.waitForLog(
      (l) => l.msg === "fenced: report from a run that is not current" && l.task_id === id && l.run_id === "forged-run",
      10_000,
    );

    const events = await readStream(`${G}${T}/${id}/events`);
    expect(events.at(-1)?.data.data).toMatchObject({ status: "completed", result: { text: "genuine work" } });
    const task = (await http("GET", `${G}${T}/${id}`)).body;
    expect(task.status).toBe("completed");
    expect(task.result).toEqual({ text: "genuine work" });
    expect(task.run_id).toBe(running.run_id);
    expect(task.attempt).toBe(running.attempt);
    console.log(
      "[hostile] forged round report, run.finished and run.failed (wrong run_id) fenced; garbage and foreign aborts on sy.ctl ignored; task completed genuinely",
    );
  });

  it("counts what it dropped in each service's /metrics and leaves the fleet intact", async () => {
    // The gateway serves /metrics on its API port; the others on METRICS_PORT, announced in the ready line.
    for (const s of services().filter((s) => s.name !== "gateway")) {
      expect(s.readyLine.metrics_port, `${s.label} ready line has metrics_port`).toEqual(expect.any(Number));
    }
    const url = (s: ServiceProcess) => `http://127.0.0.1:${s.readyLine.metrics_port}/metrics`;

    const spawner = await metricsText(url(fleet.services.spawner));
    for (const subject of SPAWNER_SUBJECTS) {
      expect(sample(spawner, "sy_invalid_input_total", { source: subject, service: "spawner" }), subject).toBe(spawnerBadRequests[subject]);
    }
    const kernel = await metricsText(url(fleet.services.kernel));
    for (const subject of CMD_SUBJECTS) {
      expect(sample(kernel, "sy_invalid_input_total", { source: subject, service: "kernel" }), subject).toBe(garbageCount);
    }
    const runner = await metricsText(url(fleet.services.runners[0]!));
    expect(sample(runner, "sy_invalid_input_total", { source: "sy.work.local", service: "runner-pool" })).toBe(garbageCount);
    const gateway = await metricsText(`${G}/metrics`);
    expect(sample(gateway, "sy_invalid_input_total", { source: "POST /v1/tasks", service: "gateway" })).toBe(rejectedSubmits);

    expect((await http("GET", `${G}${T}/${doneTask.id}`)).body, "the finished task is unchanged").toEqual(doneTask.record);
    await expectFleetIntact("the NATS barrage");
    console.log(
      `[hostile] metrics: spawner ${Object.values(spawnerBadRequests).reduce((a, b) => a + b, 0)}, kernel ${garbageCount * CMD_SUBJECTS.length}, runner ${garbageCount} invalid inputs counted`,
    );
  });

  // A well-formed command about a task that never existed (only a raw NATS client can send one:
  // the gateway checks the task first) must be given up on, not redelivered forever.
  it("does not keep a cancel for a task that never existed in SY_CMD forever", async () => {
    const ghost = "0190a0b0-dead-7bee-8f00-000000000001";
    await js.publish("sy.cmd.cancel", enc.encode(JSON.stringify({ v: 1, task_id: ghost, reason: "ghost" })));
    const started = Date.now();
    await eventually(
      async () => {
        const cmd = await jsm.consumers.info("SY_CMD", "kernel");
        return cmd.num_pending + cmd.num_ack_pending === 0;
      },
      30_000,
      "the ghost cancel to leave SY_CMD",
    );
    expect((await http("GET", `${G}${T}/${ghost}`)).status).toBe(404);
    console.log(`[hostile] cancel for a task that never existed left SY_CMD after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });
});
