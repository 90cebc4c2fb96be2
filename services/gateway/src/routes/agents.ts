// Agent catalog: the spawner owns it; the gateway forwards over request/reply.
import { type AgentNameRequest, Slug, type SpawnerReply, SpawnerReply as SpawnerReplySchema, SwitchyardError, subjects } from "@switchyard/contracts";
import { requestJson } from "@switchyard/runtime";
import type { FastifyInstance } from "fastify";
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

export function agentRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  const nameOf = (params: unknown) => parseOr400(Slug, (params as { name: string }).name, "agent name");

  app.put("/v1/agents/:name", async (req) => {
    const name = nameOf(req.params);
    return callSpawner(ctx, subjects.agentPut, { v: 1, name, def: req.body ?? null });
  });
  app.get("/v1/agents", async () => ({ items: await callSpawner(ctx, subjects.agentList, { v: 1 }) }));
  app.get("/v1/agents/:name", async (req) => callSpawner(ctx, subjects.agentGet, { v: 1, name: nameOf(req.params) } satisfies AgentNameRequest));
  app.delete("/v1/agents/:name", async (req) => callSpawner(ctx, subjects.agentDelete, { v: 1, name: nameOf(req.params) } satisfies AgentNameRequest));
}
