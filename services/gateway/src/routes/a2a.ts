// A2A v1.0 endpoints (a2a.ts does the mapping): every agent's card at
// GET /a2a/<agent>/.well-known/agent-card.json, and its JSON-RPC binding at POST /a2a/<agent>,
// served by @a2a-js/sdk's JsonRpcTransportHandler. Streaming methods answer with SSE.
import { A2A_VERSION_HEADER, type AgentCard } from "@a2a-js/sdk";
import { JsonRpcTransportHandler, ServerCallContext, validateVersion } from "@a2a-js/sdk/server";
import { AgentDef, agentKey, Slug } from "@switchyard/contracts";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { a2aHandler, agentCard } from "../a2a.ts";
import type { GatewayContext } from "../context.ts";
import { HttpProblem } from "../http-errors.ts";

export function a2aRoutes(app: FastifyInstance, ctx: GatewayContext, tenantOf: (req: FastifyRequest) => string): void {
  const secured = ctx.env.API_KEYS.trim() !== "";

  /** The agent's JSON-RPC URL: PUBLIC_URL when set, else from the request's Host. */
  const urlOf = (req: FastifyRequest, agent: string): string => {
    const base = ctx.env.PUBLIC_URL ?? `${req.protocol}://${req.headers.host ?? `${req.hostname}`}`;
    return `${base.replace(/\/+$/, "")}/a2a/${agent}`;
  };

  const loadCard = async (req: FastifyRequest, name: string): Promise<AgentCard> => {
    // The tenant's own agent first, then a shared one (as a submit resolves it).
    const own = await ctx.agents.get(agentKey(tenantOf(req), name));
    const entry = own?.operation === "PUT" ? own : await ctx.agents.get(agentKey(undefined, name));
    if (entry?.operation !== "PUT") throw new HttpProblem("agent_not_found", `agent '${name}' not found`, [{ path: "agent", message: "no such agent" }]);
    const def = AgentDef.safeParse(entry.json());
    return agentCard({ name, ...(def.success && def.data.description ? { description: def.data.description } : {}) }, urlOf(req, name), secured);
  };

  // The agent's name is declared (validated before the handler); the JSON-RPC body is the SDK's to check.
  const route = { schema: { params: z.object({ agent: Slug }) }, config: { names: { params: { agent: "agent name" } } } };
  const nameOf = (req: FastifyRequest) => (req.params as { agent: string }).agent;

  app.get("/a2a/:agent/.well-known/agent-card.json", route, async (req, reply) => {
    tenantOf(req);
    const card = await loadCard(req, nameOf(req));
    return reply.header("cache-control", "no-cache").send(card);
  });

  app.post("/a2a/:agent", route, async (req, reply) => {
    tenantOf(req); // 401 before anything else when keys are configured
    const agent = nameOf(req);
    const card = await loadCard(req, agent);
    const handler = a2aHandler({ app, ctx, agent, authorization: req.headers.authorization, url: urlOf(req, agent) }, card);
    const transport = new JsonRpcTransportHandler(handler);
    const body = req.body as Record<string, unknown> | undefined;
    const id = (body?.id as string | number | undefined) ?? null;
    try {
      const requested = req.headers[A2A_VERSION_HEADER.toLowerCase()];
      const context = new ServerCallContext({ requestedVersion: typeof requested === "string" && requested ? requested : "1.0" });
      validateVersion(context.requestedVersion, card, "JSONRPC");
      const out = await transport.handle(body ?? {}, context);
      if (!isAsyncIterable(out)) return reply.send(out);
      return streamSse(req, reply, out, id);
    } catch (err) {
      req.log.warn({ err: (err as Error).message }, "a2a request failed");
      return reply.send({ jsonrpc: "2.0", id, error: JsonRpcTransportHandler.mapToJSONRPCError(err) });
    }
  });
}

function isAsyncIterable(v: unknown): v is AsyncGenerator<unknown, void, undefined> {
  return typeof (v as { [Symbol.asyncIterator]?: unknown } | null)?.[Symbol.asyncIterator] === "function";
}

/** Writes a JSON-RPC stream as SSE: one `data:` frame per response; stops when the client leaves. */
async function streamSse(req: FastifyRequest, reply: FastifyReply, stream: AsyncGenerator<unknown, void, undefined>, id: string | number | null) {
  const it = stream[Symbol.asyncIterator]();
  let first: IteratorResult<unknown, void>;
  try {
    first = await it.next(); // errors before the first event are a plain JSON-RPC error
  } catch (err) {
    return reply.send({ jsonrpc: "2.0", id, error: JsonRpcTransportHandler.mapToJSONRPCError(err) });
  }
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive", "x-accel-buffering": "no" });
  let closed = false;
  req.raw.on("close", () => {
    closed = true;
    void it.return?.(undefined);
  });
  try {
    if (!first.done) res.write(`data: ${JSON.stringify(first.value)}\n\n`);
    while (!closed && !first.done) {
      const next = await it.next();
      if (next.done) break;
      res.write(`data: ${JSON.stringify(next.value)}\n\n`);
    }
  } catch (err) {
    if (!closed) res.write(`event: error\ndata: ${JSON.stringify({ jsonrpc: "2.0", id, error: JsonRpcTransportHandler.mapToJSONRPCError(err) })}\n\n`);
  } finally {
    res.end();
  }
}
