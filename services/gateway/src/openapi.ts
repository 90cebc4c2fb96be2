// The OpenAPI 3.1 document of the HTTP API. @fastify/swagger builds it from the schemas each
// route declares (zod, through fastify-type-provider-zod's jsonSchemaTransform: request parts as
// input schemas, responses as output schemas); this file adds the 401/403/429 every
// authenticated route may answer and describes the few routes that stream or serve non-JSON
// (SSE, WebSocket, A2A JSON-RPC, metrics, the dashboard), whose handlers read their own input.
// Served at /openapi.json with a docs UI at /docs (routes/docs.ts). test/e2e/openapi.test.ts
// drives every route and validates each real response against this document.
import type { SwaggerTransform, SwaggerTransformObject } from "@fastify/swagger";
import { ApprovalPolicy, HttpError, TaskEvent } from "@switchyard/contracts";
import { createJsonSchemaTransform, createJsonSchemaTransformObject } from "fastify-type-provider-zod";
import { z } from "zod";
import { ROUTE_SCOPES } from "./auth.ts";

type Json = Record<string, unknown>;

/**
 * Schemas that become named components. A recursive schema must be one (an approval policy's
 * `composite` holds policies). Our own registry, not zod's global one, so that no other JSON
 * Schema generated from the contracts changes.
 */
const registry = z.registry<{ id: string }>();
registry.add(ApprovalPolicy, { id: "ApprovalPolicy" });
const jsonSchemaTransform = createJsonSchemaTransform({ schemaRegistry: registry });
const jsonSchemaTransformObject = createJsonSchemaTransformObject({ schemaRegistry: registry });

function schemaOf(s: z.ZodType, io: "input" | "output"): Json {
  const { $schema: _drop, ...rest } = z.toJSONSchema(s, { io, unrepresentable: "any" }) as Json;
  return rest;
}

const COMPONENTS: Record<string, [z.ZodType, "input" | "output"]> = {
  TaskEvent: [TaskEvent, "output"],
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
const a2aAgent = { name: "agent", in: "path", required: true, schema: { type: "string" } };

/** Routes that declare no zod schemas: documented here, merged over what swagger found for them. */
function handWrittenPaths(): Record<string, Json> {
  return {
    "/metrics": {
      get: {
        summary: "Prometheus metrics",
        responses: { "200": { description: "text exposition format", content: { "text/plain": { schema: { type: "string" } } } } },
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
  };
}

export const OPENAPI_INFO = {
  openapi: "3.1.0",
  info: {
    title: "Switchyard HTTP API",
    version: "1.0.0",
    description: "Runs AI-agent tasks. Errors are `{error: {code, message, details?}}`. With API_KEYS set, every route needs `Authorization: Bearer <token>`.",
  },
  components: { securitySchemes: { bearer: { type: "http" as const, scheme: "bearer" } } },
  security: [{ bearer: [] }, {}],
};

/** Per route: zod → JSON Schema, and every authenticated route also documents 401, 403 and 429. */
export const openApiTransform: SwaggerTransform = (input) => {
  const { schema, url, route } = input as unknown as {
    schema?: Json & { response?: Record<string, unknown> };
    url: string;
    route: { method: string | string[] };
  };
  if (schema?.response) {
    const method = [route.method].flat()[0];
    const access = ROUTE_SCOPES[`${method} ${url.replace(/\{(\w+)\}/g, ":$1")}`];
    const auth = access !== undefined && access !== "public" ? { 401: HttpError, 403: HttpError, 429: HttpError } : {};
    return jsonSchemaTransform({ ...input, schema: { ...schema, response: { ...auth, ...schema.response } } } as never);
  }
  return jsonSchemaTransform(input as never);
};

/** The whole document: components from the zod registry, plus the hand-written operations. */
export const openApiTransformObject: SwaggerTransformObject = (input) => {
  const doc = jsonSchemaTransformObject(input as never) as Json & { paths?: Record<string, Json>; components?: Json & { schemas?: Record<string, Json> } };
  const paths: Record<string, Json> = { ...(doc.paths ?? {}) };
  for (const [p, ops] of Object.entries(handWrittenPaths())) paths[p] = { ...(paths[p] ?? {}), ...ops };
  // Headers a handler reads itself (its message names the header), documented here.
  const submit = (paths["/v1/tasks"] as { post?: { parameters?: Json[] } } | undefined)?.post;
  if (submit) {
    const idempotency = { name: "Idempotency-Key", in: "header", required: false, schema: { type: "string", pattern: "^[\\x21-\\x7e]{1,256}$" } };
    submit.parameters = [...(submit.parameters ?? []), idempotency];
  }
  return { ...doc, paths, components: { ...doc.components, schemas: { ...doc.components?.schemas, ...components() } } } as never;
};
