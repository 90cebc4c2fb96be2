// The OpenAPI document at /openapi.json against a real fleet: every operation it lists is
// driven, and each real response (status, content type, body; every SSE event of a stream) is
// validated against the document's schema for it. Error responses too. /docs serves its UI.
import { type Fleet, startFleet } from "@switchyard/devkit";
import { Ajv2020 } from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// Every route the gateway registers has an entry here (the gateway refuses to start otherwise).
import { ROUTE_SCOPES } from "../../services/gateway/src/auth.ts";
import { http, type JsonResponse } from "../src/http.ts";
import { readStream } from "../src/sse.ts";
import { putAgents, submit, waitForTask } from "../src/support.ts";

let fleet: Fleet;
let G: string;
let spec: { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>> };
const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
/** Operations checked, as "METHOD /path {status}". */
const covered = new Set<string>();

/** Validates a response against the spec's schema for that path, method and status. */
function check(method: string, path: string, res: { status: number; body: unknown; headers: Headers }, media = "application/json"): void {
  const op = spec.paths[path]?.[method.toLowerCase()];
  expect(op, `${method} ${path} is in the spec`).toBeDefined();
  const response = op?.responses[String(res.status)];
  expect(response, `${method} ${path} documents status ${res.status} (body ${JSON.stringify(res.body).slice(0, 300)})`).toBeDefined();
  const type = (res.headers.get("content-type") ?? "").split(";")[0]?.trim();
  expect(type).toBe(media);
  expect(Object.keys(response?.content ?? {})).toContain(media);
  const pointer = `openapi#/paths/${path.replaceAll("~", "~0").replaceAll("/", "~1")}/${method.toLowerCase()}/responses/${res.status}/content/${media.replaceAll("/", "~1")}/schema`;
  const validate = ajv.getSchema(pointer);
  expect(validate, pointer).toBeDefined();
  if (media === "application/json" || media === "text/event-stream") {
    const ok = validate?.(res.body);
    expect(ok, `${method} ${path} ${res.status}: ${ajv.errorsText(validate?.errors)}; body ${JSON.stringify(res.body).slice(0, 500)}`).toBe(true);
  }
  covered.add(`${method.toUpperCase()} ${path}`);
}

beforeAll(async () => {
  fleet = await startFleet();
  G = fleet.gatewayUrl;
  const res = await http("GET", `${G}/openapi.json`);
  expect(res.status).toBe(200);
  spec = res.body;
  ajv.addSchema(spec as object, "openapi");
  await putAgents(G, {
    "oa-pay": {
      model: "scripted",
      tools: ["payments.charge"],
      approval: { policy: "pattern", tools: ["payments.*"] },
      script: [{ text: "Charging.", tool: { name: "payments.charge", args: { amount: 1 } } }, { text: "Paid." }],
    },
    "oa-ext": {
      model: "scripted",
      tools: [{ name: "lookup", external: true }],
      script: [{ text: "…", tool: { name: "lookup", args: {} } }, { text: "Found." }],
    },
    "oa-slow": { model: "scripted", tools: ["sleep"], script: [{ text: "z", tool: { name: "sleep", args: { ms: 60_000 } } }, { text: "up" }] },
  });
});

afterAll(async () => {
  await fleet?.stop();
});

describe("OpenAPI document", () => {
  it("is OpenAPI 3.1 with a schema per documented JSON response, and /docs serves its UI", async () => {
    expect((spec as unknown as { openapi: string }).openapi).toBe("3.1.0");
    // Generated from the routes' declared schemas: the submit body, and the header its handler reads.
    const post = spec.paths["/v1/tasks"]?.post as unknown as { requestBody?: unknown; parameters?: { name: string }[] };
    expect(post.requestBody).toBeDefined();
    expect(post.parameters?.map((p) => p.name)).toContain("Idempotency-Key");
    const docs = await fetch(`${G}/docs/`, { redirect: "follow" });
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain("swagger-ui");
  });

  it("every route's real responses match it", async () => {
    const get = async (path: string, url = path) => check("GET", path, await http("GET", `${G}${url}`));
    await get("/healthz");
    await get("/readyz");
    const metrics = await fetch(`${G}/metrics`);
    check("GET", "/metrics", { status: metrics.status, body: await metrics.text(), headers: metrics.headers }, "text/plain");

    // Tasks: submit (and its errors), get, list, events, cancel.
    const sub = await http("POST", `${G}/v1/tasks`, { agent: "hello", input: "spec" }, { "idempotency-key": "oa-1" });
    check("POST", "/v1/tasks", sub);
    check("POST", "/v1/tasks", await http("POST", `${G}/v1/tasks`, { agent: "hello", input: 5 }));
    check("POST", "/v1/tasks", await http("POST", `${G}/v1/tasks`, { agent: "nobody", input: "x" }));
    check("POST", "/v1/tasks", await http("POST", `${G}/v1/tasks`, "plain", { "content-type": "text/plain" }));
    const id = sub.body.id as string;
    await waitForTask(G, id, (t) => t.status === "completed", 30_000, "completed");
    await get("/v1/tasks/{id}", `/v1/tasks/${id}`);
    await get("/v1/tasks/{id}", "/v1/tasks/0190a0a0-0000-7000-8000-000000000000");
    await get("/v1/tasks", "/v1/tasks?limit=5&status=completed");
    await get("/v1/tasks", "/v1/tasks?limit=0");
    const events = await readStream(`${G}/v1/tasks/${id}/events`);
    expect(events.length).toBeGreaterThan(3);
    const headers = new Headers({ "content-type": "text/event-stream" });
    for (const e of events) check("GET", "/v1/tasks/{id}/events", { status: 200, body: e.data, headers }, "text/event-stream");
    await get("/v1/tasks/{id}/events", "/v1/tasks/0190a0a0-0000-7000-8000-000000000000/events");
    check("POST", "/v1/tasks/{id}/cancel", await http("POST", `${G}/v1/tasks/${id}/cancel`, {}));
    const slow = await submit(G, "oa-slow", "x");
    await waitForTask(G, slow, (t) => t.status === "running", 20_000, "running");
    check("POST", "/v1/tasks/{id}/cancel", await http("POST", `${G}/v1/tasks/${slow}/cancel`, { reason: "spec" }));

    // Answers: approvals and tool results, with their errors.
    const pay = await submit(G, "oa-pay", "x");
    const parked = await waitForTask(G, pay, (t) => t.status === "input_required", 20_000, "parked");
    const call = parked.pending.calls[0].call_id as string;
    check("POST", "/v1/tasks/{id}/approvals", await http("POST", `${G}/v1/tasks/${pay}/approvals`, { call_id: call, decision: "maybe" }));
    check("POST", "/v1/tasks/{id}/approvals", await http("POST", `${G}/v1/tasks/${pay}/approvals`, { call_id: call, decision: "approve" }));
    check("POST", "/v1/tasks/{id}/approvals", await http("POST", `${G}/v1/tasks/${pay}/approvals`, { call_id: call, decision: "reject" }));
    const ext = await submit(G, "oa-ext", "x");
    const waiting = await waitForTask(G, ext, (t) => t.status === "input_required", 20_000, "parked");
    const extCall = waiting.pending.calls[0].call_id as string;
    check("POST", "/v1/tasks/{id}/tool-results", await http("POST", `${G}/v1/tasks/${ext}/tool-results`, { call_id: "nope", result: 1 }));
    check("POST", "/v1/tasks/{id}/tool-results", await http("POST", `${G}/v1/tasks/${ext}/tool-results`, { call_id: extCall, result: { ok: true } }));

    // Agents, runners, operators.
    await get("/v1/agents");
    await get("/v1/agents/{name}", "/v1/agents/hello");
    await get("/v1/agents/{name}", "/v1/agents/nobody");
    await get("/v1/agents/{name}", "/v1/agents/Not_A_Slug");
    check("PUT", "/v1/agents/{name}", await http("PUT", `${G}/v1/agents/oa-tmp`, { model: "scripted", script: [{ text: "hi" }] }));
    check("PUT", "/v1/agents/{name}", await http("PUT", `${G}/v1/agents/oa-tmp`, { model: "scripted", limits: { max_rounds: 0 } }));
    check("DELETE", "/v1/agents/{name}", await http("DELETE", `${G}/v1/agents/oa-tmp`));
    check("DELETE", "/v1/agents/{name}", await http("DELETE", `${G}/v1/agents/oa-tmp`));
    await get("/v1/runners");
    await get("/v1/runner-kinds");
    await get("/v1/operators");
    const ws = await http("GET", `${G}/v1/operators/x/connect`);
    expect(ws.status).toBeGreaterThanOrEqual(400); // not a WebSocket upgrade
    covered.add("GET /v1/operators/{id}/connect");

    // A2A and the dashboard.
    await get("/a2a/{agent}/.well-known/agent-card.json", "/a2a/hello/.well-known/agent-card.json");
    await get("/a2a/{agent}/.well-known/agent-card.json", "/a2a/nobody/.well-known/agent-card.json");
    const rpc: JsonResponse = await http("POST", `${G}/a2a/hello`, { jsonrpc: "2.0", id: 1, method: "GetTask", params: { id } }, { "a2a-version": "1.0" });
    check("POST", "/a2a/{agent}", rpc);
    expect(rpc.body.result?.id ?? rpc.body.error, JSON.stringify(rpc.body)).toBeDefined();
    const ui = await fetch(`${G}/ui/`);
    check("GET", "/ui/", { status: ui.status, body: await ui.text(), headers: ui.headers }, "text/html");

    // Every registered route is in the document, except the docs themselves and the dashboard's
    // redirect and static-file routes (documented as /ui/).
    const undocumented = /^GET \/(openapi\.json$|docs(\/|$)|ui(\/\*)?$)/;
    const registered = Object.entries(ROUTE_SCOPES)
      .filter(([r]) => !undocumented.test(r))
      .map(([r, access]) => [r.replace(/:(\w+)/g, "{$1}"), access] as const);
    const documented = Object.entries(spec.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    expect(registered.map(([r]) => r).filter((r) => !documented.includes(r))).toEqual([]);
    // Every operation that needs a key's scope documents 401, 403 and 429.
    for (const [r, access] of registered) {
      if (access === "public" || access === "metrics") continue;
      const [m = "", p = ""] = r.split(" ");
      expect(Object.keys(spec.paths[p]?.[m.toLowerCase()]?.responses ?? {}), r).toEqual(expect.arrayContaining(["401", "403", "429"]));
    }

    // Every operation in the document was driven.
    const all = Object.entries(spec.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    expect(all.filter((op) => !covered.has(op))).toEqual([]);
  });
});
