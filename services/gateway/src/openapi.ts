// The OpenAPI 3.1 document of the HTTP API, generated from the zod contracts (z.toJSONSchema:
// request bodies as input schemas, responses as output schemas). Served at /openapi.json with
// a docs UI at /docs (routes/docs.ts). test/e2e/openapi.test.ts drives every route and
// validates each real response against this document.
import {
  AgentDef,
  AgentList,
  AnswerResponse,
  ApprovalBody,
  CancelResponse,
  Health,
  HttpError,
  ListTasksQuery,
  ListTasksResponse,
  OperatorList,
  RunnerKindList,
  RunnerList,
  SubmitTaskBody,
  SubmitTaskResponse,
  TaskEvent,
  TaskView,
  ToolResultBody,
} from "@switchyard/contracts";
import { z } from "zod";

type Json = Record<string, unknown>;

function schemaOf(s: z.ZodType, io: "input" | "output"): Json {
  const { $schema: _drop, ...rest } = z.toJSONSchema(s, { io, unrepresentable: "any" }) as Json;
  return rest;
}

const COMPONENTS: Record<string, [z.ZodType, "input" | "output"]> = {
  SubmitTaskBody: [SubmitTaskBody, "input"],
  SubmitTaskResponse: [SubmitTaskResponse, "output"],
  TaskView: [TaskView, "output"],
  ListTasksResponse: [ListTasksResponse, "output"],
  TaskEvent: [TaskEvent, "output"],
  CancelBody: [z.object({ reason: z.string().max(1000).optional() }).strict(), "input"],
  CancelResponse: [CancelResponse, "output"],
  ApprovalBody: [ApprovalBody, "input"],
  ToolResultBody: [ToolResultBody, "input"],
  AnswerResponse: [AnswerResponse, "output"],
  AgentDefInput: [AgentDef, "input"],
  AgentDef: [AgentDef, "output"],
  AgentList: [AgentList, "output"],
  AgentDeleted: [z.object({ deleted: z.string() }), "output"],
  RunnerList: [RunnerList, "output"],
  RunnerKindList: [RunnerKindList, "output"],
  OperatorList: [OperatorList, "output"],
  Health: [Health, "output"],
  Liveness: [z.object({ status: z.literal("ok") }), "output"],
  Problem: [HttpError, "output"],
  A2aAgentCard: [z.looseObject({ name: z.string(), description: z.string(), supportedInterfaces: z.array(z.looseObject({ url: z.string() })) }), "output"],
  JsonRpcResponse: [z.looseObject({ jsonrpc: z.literal("2.0"), id: z.union([z.string(), z.number(), z.null()]) }), "output"],
};

/**
 * Every component schema; the `$defs` zod emits for recursive parts (an approval policy's
 * `composite`) become components of their own, `<Component>__<def>`, with the refs rewritten.
 */
function components(): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [name, [s, io]] of Object.entries(COMPONENTS)) {
    const { $defs, ...schema } = schemaOf(s, io) as Json & { $defs?: Record<string, Json> };
    const rewrite = (v: Json): Json => JSON.parse(JSON.stringify(v).replaceAll('"#/$defs/', `"#/components/schemas/${name}__`)) as Json;
    out[name] = rewrite(schema);
    for (const [def, body] of Object.entries($defs ?? {})) out[`${name}__${def}`] = rewrite(body);
  }
  return out;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (name: string) => ({ "application/json": { schema: ref(name) } });
const problem = (description: string) => ({ description, content: json("Problem") });
const errors = (...codes: number[]) => {
  const words: Record<number, string> = {
    400: "invalid input; `details` names each field",
    401: "missing or unknown bearer token (when keys are configured)",
    403: "the key lacks the route's scope, or the agent forbids the request",
    429: "over the tenant's quota (Retry-After says when to retry)",
    404: "not found",
    409: "conflict with the task's state",
    413: "too large",
    414: "a path parameter is too long",
    415: "content-type is not application/json",
    503: "a dependency (NATS, Redis, the spawner) is unreachable",
  };
  // Every authenticated route may also refuse a scope (403) or a quota (429).
  const all = codes.includes(401) ? [...codes, 403, 429] : codes;
  return Object.fromEntries(all.map((c) => [String(c), problem(words[c] ?? "error")]));
};
const taskId = { name: "id", in: "path", required: true, schema: { type: "string" }, description: "task id (UUIDv7)" };
const agentName = { name: "name", in: "path", required: true, schema: { type: "string" } };
const a2aAgent = { name: "agent", in: "path", required: true, schema: { type: "string" } };
const body = (name: string) => ({ required: true, content: json(name) });

export function buildOpenApi(): Json {
  const listQuery = schemaOf(ListTasksQuery, "input") as { properties: Record<string, Json> };
  return {
    openapi: "3.1.0",
    info: {
      title: "Switchyard HTTP API",
      version: "1.0.0",
      description:
        "Runs AI-agent tasks. Errors are `{error: {code, message, details?}}`. With API_KEYS set, every route needs `Authorization: Bearer <token>`.",
    },
    components: {
      schemas: components(),
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
    },
    security: [{ bearer: [] }, {}],
    paths: {
      "/healthz": { get: { summary: "Liveness", responses: { "200": { description: "alive", content: json("Liveness") } } } },
      "/readyz": {
        get: {
          summary: "Readiness: NATS and Redis reachable",
          responses: { "200": { description: "ready", content: json("Health") }, "503": { description: "not ready", content: json("Health") } },
        },
      },
      "/metrics": {
        get: {
          summary: "Prometheus metrics",
          responses: { "200": { description: "text exposition format", content: { "text/plain": { schema: { type: "string" } } } } },
        },
      },
      "/v1/tasks": {
        post: {
          summary: "Submit a task",
          parameters: [{ name: "Idempotency-Key", in: "header", required: false, schema: { type: "string", pattern: "^[\\x21-\\x7e]{1,256}$" } }],
          requestBody: body("SubmitTaskBody"),
          responses: { "202": { description: "accepted", content: json("SubmitTaskResponse") }, ...errors(400, 401, 404, 409, 413, 415, 503) },
        },
        get: {
          summary: "List tasks, newest first",
          parameters: Object.entries(listQuery.properties).map(([name, schema]) => ({ name, in: "query", required: false, schema })),
          responses: { "200": { description: "one page", content: json("ListTasksResponse") }, ...errors(400, 401) },
        },
      },
      "/v1/tasks/{id}": {
        get: {
          summary: "A task",
          parameters: [taskId],
          responses: { "200": { description: "the task", content: json("TaskView") }, ...errors(401, 404, 414) },
        },
      },
      "/v1/tasks/{id}/events": {
        get: {
          summary: "The task's events as Server-Sent Events (each `data:` is a TaskEvent; resume with Last-Event-ID or ?after=)",
          parameters: [
            taskId,
            { name: "after", in: "query", required: false, schema: { type: "integer", minimum: 0 } },
            { name: "Last-Event-ID", in: "header", required: false, schema: { type: "string" } },
          ],
          responses: {
            "200": { description: "event stream; ends after the terminal status event", content: { "text/event-stream": { schema: ref("TaskEvent") } } },
            ...errors(400, 401, 404),
          },
        },
      },
      "/v1/tasks/{id}/cancel": {
        post: {
          summary: "Cancel a task",
          parameters: [taskId],
          requestBody: { required: false, content: json("CancelBody") },
          responses: { "202": { description: "cancel requested", content: json("CancelResponse") }, ...errors(400, 401, 404, 409) },
        },
      },
      "/v1/tasks/{id}/approvals": {
        post: {
          summary: "Approve or reject a waiting tool call",
          parameters: [taskId],
          requestBody: body("ApprovalBody"),
          responses: {
            "200": { description: "recorded", content: json("AnswerResponse") },
            "202": { description: "durable; no kernel confirmed it in time", content: json("AnswerResponse") },
            ...errors(400, 401, 404, 409),
          },
        },
      },
      "/v1/tasks/{id}/tool-results": {
        post: {
          summary: "The result of an external tool call",
          parameters: [taskId],
          requestBody: body("ToolResultBody"),
          responses: {
            "200": { description: "recorded", content: json("AnswerResponse") },
            "202": { description: "durable; no kernel confirmed it in time", content: json("AnswerResponse") },
            ...errors(400, 401, 404, 409),
          },
        },
      },
      "/v1/agents": { get: { summary: "The agent catalog", responses: { "200": { description: "agents", content: json("AgentList") }, ...errors(401, 503) } } },
      "/v1/agents/{name}": {
        get: {
          summary: "An agent",
          parameters: [agentName],
          responses: { "200": { description: "the agent", content: json("AgentDef") }, ...errors(400, 401, 404, 503) },
        },
        put: {
          summary: "Create or replace an agent",
          parameters: [agentName],
          requestBody: body("AgentDefInput"),
          responses: { "200": { description: "the stored definition", content: json("AgentDef") }, ...errors(400, 401, 413, 503) },
        },
        delete: {
          summary: "Delete an agent",
          parameters: [agentName],
          responses: { "200": { description: "deleted", content: json("AgentDeleted") }, ...errors(400, 401, 404, 503) },
        },
      },
      "/v1/runners": {
        get: { summary: "Live runner nodes", responses: { "200": { description: "nodes", content: json("RunnerList") }, ...errors(401, 503) } },
      },
      "/v1/runner-kinds": {
        get: {
          summary: "Runner kinds: nodes, free slots, queue depth",
          responses: { "200": { description: "kinds", content: json("RunnerKindList") }, ...errors(401, 503) },
        },
      },
      "/v1/operators": {
        get: { summary: "Registered operators", responses: { "200": { description: "operators", content: json("OperatorList") }, ...errors(401) } },
      },
      "/v1/operators/{id}/connect": {
        get: {
          summary: "An operator's WebSocket (see docs/how-to-add-an-agent-kind.md)",
          parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }],
          responses: { "101": { description: "switching protocols" }, ...errors(400, 401) },
        },
      },
      "/a2a/{agent}/.well-known/agent-card.json": {
        get: {
          summary: "The agent's A2A v1.0 card",
          parameters: [a2aAgent],
          responses: { "200": { description: "agent card", content: json("A2aAgentCard") }, ...errors(401, 404) },
        },
      },
      "/a2a/{agent}": {
        post: {
          summary: "A2A v1.0 JSON-RPC (SendMessage, SendStreamingMessage, GetTask, CancelTask, SubscribeToTask)",
          parameters: [a2aAgent],
          requestBody: { required: true, content: { "application/json": { schema: { type: "object" } } } },
          responses: {
            "200": {
              description: "a JSON-RPC response, or for streaming methods an SSE stream of them",
              content: { "application/json": { schema: ref("JsonRpcResponse") }, "text/event-stream": { schema: ref("JsonRpcResponse") } },
            },
            ...errors(401, 404),
          },
        },
      },
      "/ui/": { get: { summary: "The dashboard", responses: { "200": { description: "HTML", content: { "text/html": { schema: { type: "string" } } } } } } },
    },
  };
}
