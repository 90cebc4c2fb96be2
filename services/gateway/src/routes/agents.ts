// Agent catalog: the spawner owns it; the gateway forwards over request/reply.
import {
  AgentDef,
  AgentList,
  type AgentNameRequest,
  Slug,
  type SpawnerReply,
  SpawnerReply as SpawnerReplySchema,
  SwitchyardError,
  subjects,
} from "@switchyard/contracts";
import { requestJson } from "@switchyard/runtime";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { validatorCompiler, type ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { GatewayContext } from "../context.ts";
import { encodeForBus, fromServiceError } from "../http-errors.ts";
import { problems } from "../route-schemas.ts";

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

const AgentParams = z.object({ name: Slug });
const AgentDeleted = z.object({ deleted: z.string() });
const names = { params: { name: "agent name" } };

export function agentRoutes(fastify: FastifyInstance, ctx: GatewayContext, tenantOf: (req: FastifyRequest) => string): void {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  // Every call names the caller's tenant: the spawner reads its agents and the shared ones, and
  // writes only its own (docs/SECURITY.md).
  const putSchema = { summary: "Create or replace an agent", params: AgentParams, body: AgentDef, response: { 200: AgentDef, ...problems(400, 413, 503) } };
  app.put(
    "/v1/agents/:name",
    {
      schema: putSchema,
      config: { names },
      // The body is documented, not checked here: the spawner validates a definition against the
      // kinds registered now (400 invalid_agent naming the field) and stores what it parsed.
      validatorCompiler: (route) => (route.httpPart === "body" ? (data: unknown) => ({ value: data }) : validatorCompiler(route as never)),
    },
    async (req) => (await callSpawner(ctx, subjects.agentPut, { v: 1, name: req.params.name, def: req.body ?? null, tenant: tenantOf(req) })) as AgentDef,
  );
  app.get("/v1/agents", { schema: { summary: "The agent catalog", response: { 200: AgentList, ...problems(503) } } }, async (req) => ({
    items: (await callSpawner(ctx, subjects.agentList, { v: 1, tenant: tenantOf(req) })) as AgentDef[],
  }));
  const getSchema = { summary: "An agent", params: AgentParams, response: { 200: AgentDef, ...problems(400, 404, 503) } };
  app.get(
    "/v1/agents/:name",
    { schema: getSchema, config: { names } },
    async (req) => (await callSpawner(ctx, subjects.agentGet, { v: 1, name: req.params.name, tenant: tenantOf(req) } satisfies AgentNameRequest)) as AgentDef,
  );
  const deleteSchema = { summary: "Delete an agent", params: AgentParams, response: { 200: AgentDeleted, ...problems(400, 404, 503) } };
  app.delete(
    "/v1/agents/:name",
    { schema: deleteSchema, config: { names } },
    async (req) =>
      (await callSpawner(ctx, subjects.agentDelete, { v: 1, name: req.params.name, tenant: tenantOf(req) } satisfies AgentNameRequest)) as z.infer<
        typeof AgentDeleted
      >,
  );
}
