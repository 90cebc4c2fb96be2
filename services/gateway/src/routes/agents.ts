// Agent catalog: the spawner owns it; the gateway forwards over request/reply.
import { type AgentNameRequest, Slug, type SpawnerReply, SpawnerReply as SpawnerReplySchema, SwitchyardError, subjects } from "@switchyard/contracts";
import { requestJson } from "@switchyard/runtime";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { GatewayContext } from "../context.ts";
import { encodeForBus, fromServiceError, parseOr400 } from "../http-errors.ts";

async function callSpawner(ctx: GatewayContext, subject: string, payload: unknown): Promise<unknown> {
  const body = encodeForBus(ctx.nc.info?.max_payload, payload, "the agent definition");
  let reply: SpawnerReply;
  try {
    reply = await requestJson(ctx.nc, subject, body, SpawnerReplySchema, ctx.env.SPAWNER_TIMEOUT_MS);
  } catch (err) {
    throw fromServiceError(err);
  }
  if (!reply.ok) {
    const e = reply.error;
    throw fromServiceError(new SwitchyardError(e.code as "internal", e.message, { details: e.details }));
  }
  return reply.value;
}

export function agentRoutes(app: FastifyInstance, ctx: GatewayContext, tenantOf: (req: FastifyRequest) => string): void {
  const nameOf = (params: unknown) => parseOr400(Slug, (params as { name: string }).name, "agent name");

  // Every call names the caller's tenant: the spawner reads its agents and the shared ones, and
  // writes only its own (docs/SECURITY.md).
  app.put("/v1/agents/:name", async (req) => {
    const name = nameOf(req.params);
    return callSpawner(ctx, subjects.agentPut, { v: 1, name, def: req.body ?? null, tenant: tenantOf(req) });
  });
  app.get("/v1/agents", async (req) => ({ items: await callSpawner(ctx, subjects.agentList, { v: 1, tenant: tenantOf(req) }) }));
  app.get("/v1/agents/:name", async (req) =>
    callSpawner(ctx, subjects.agentGet, { v: 1, name: nameOf(req.params), tenant: tenantOf(req) } satisfies AgentNameRequest),
  );
  app.delete("/v1/agents/:name", async (req) =>
    callSpawner(ctx, subjects.agentDelete, { v: 1, name: nameOf(req.params), tenant: tenantOf(req) } satisfies AgentNameRequest),
  );
}
