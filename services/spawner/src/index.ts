// spawner: the agent catalog (KV sy_agents, agents/*.md loader, CRUD over request/reply) and
// the compiler from agent definition to run plan.
import {
  AgentListRequest,
  AgentNameRequest,
  AgentPutRequest,
  type OperatorRecord,
  OperatorRegister,
  OperatorUnregister,
  PlanRequest,
  QUEUE_GROUPS,
  type SpawnerReply,
  SwitchyardError,
  subjects,
} from "@switchyard/contracts";
import { connectNats, countReconnects, createMetrics, ensureTopology, runService, serveJson, serveMetricsFromEnv } from "@switchyard/runtime";
import type { z } from "zod";
import { AgentCatalog } from "./catalog.ts";
import { SpawnerEnv } from "./env.ts";
import { loadAgentFolder } from "./loader.ts";
import { compileRunPlan } from "./plan.ts";

function errorReply(err: unknown): SpawnerReply {
  if (err instanceof SwitchyardError) return { ok: false, error: err.toWire() };
  return { ok: false, error: { code: "internal", message: "spawner error", retryable: true } };
}

await runService("spawner", SpawnerEnv, async ({ env, log }) => {
  const nc = await connectNats(env.NATS_URL, "spawner", log);
  const topo = await ensureTopology(nc, env);
  const catalog = new AgentCatalog(topo.agents, topo.runnerKinds, topo.operators, env.MAX_AGENTS_PER_TENANT, topo.runnerCaps);
  const metrics = createMetrics("spawner");
  countReconnects(metrics, { nc });

  if (env.AGENTS_DIR) {
    const { loaded, rejected } = await loadAgentFolder(env.AGENTS_DIR, catalog, log);
    log.info({ dir: env.AGENTS_DIR, loaded, rejected }, "agents loaded");
  }

  const serve = <S extends z.ZodType>(subject: string, schema: S, handle: (req: z.infer<S>) => Promise<unknown>) =>
    serveJson(nc, {
      subject,
      queue: QUEUE_GROUPS.spawner,
      schema,
      log,
      metrics,
      handle: async (req) => ({ ok: true, value: await handle(req) }) satisfies SpawnerReply,
      onInvalid: (reason) => ({ ok: false, error: { code: "bad_request", message: reason, retryable: false } }) satisfies SpawnerReply,
      onError: errorReply,
    });

  const notFound = (name: string) => new SwitchyardError("agent_not_found", `agent '${name}' not found`);
  const subs = [
    serve(subjects.agentPut, AgentPutRequest, (req) => catalog.put(req.name, req.def, req.tenant)),
    serve(subjects.agentGet, AgentNameRequest, async (req) => (await catalog.get(req.name, req.tenant)) ?? Promise.reject(notFound(req.name))),
    serve(subjects.agentList, AgentListRequest, (req) => catalog.list(req.tenant)),
    serve(subjects.agentDelete, AgentNameRequest, async (req) =>
      (await catalog.delete(req.name, req.tenant)) ? { deleted: req.name } : Promise.reject(notFound(req.name)),
    ),
    // Operators: a registration is renewed by sending it again; it expires after OPERATOR_TTL_MS.
    serve(subjects.operatorRegister, OperatorRegister, async (req) => {
      const now = new Date().toISOString();
      const existing = await topo.operators.get(req.id);
      const previous = existing?.operation === "PUT" ? (existing.json() as OperatorRecord) : undefined;
      // An id belongs to whoever registered it while the registration lives: another tenant
      // (or a tenant, for a fleet operator's id) cannot take it over (docs/SECURITY.md).
      if (previous && previous.tenant !== req.tenant) {
        throw new SwitchyardError("forbidden", `operator '${req.id}' is registered by another tenant`);
      }
      const since = previous ? previous.registered_at : now;
      const record: OperatorRecord = {
        v: 1,
        id: req.id,
        description: req.description,
        via: req.via,
        ...(req.session ? { session: req.session } : {}),
        ...(req.tenant ? { tenant: req.tenant } : {}),
        registered_at: since,
        last_seen: now,
      };
      await topo.operators.put(req.id, JSON.stringify(record));
      if (existing?.operation !== "PUT") log.info({ operator: req.id, via: req.via }, "operator registered");
      return record;
    }),
    serve(subjects.operatorUnregister, OperatorUnregister, async (req) => {
      const existing = await topo.operators.get(req.id);
      if (existing?.operation !== "PUT") return { unregistered: null };
      // A connection that closed late must not remove the registration of the one that replaced
      // it: the delete applies only to the revision that carries this session.
      if (req.session && (existing.json() as OperatorRecord).session !== req.session) return { unregistered: null };
      try {
        await topo.operators.delete(req.id, { previousSeq: existing.revision });
      } catch {
        return { unregistered: null }; // re-registered meanwhile
      }
      log.info({ operator: req.id }, "operator unregistered");
      return { unregistered: req.id };
    }),
    serve(subjects.plan, PlanRequest, async (req) => {
      // The submitter's tenant: its own agent, else a shared one; never another tenant's.
      const found = await catalog.getWithSource(req.agent, req.tenant);
      if (!found) throw notFound(req.agent);
      const plan = compileRunPlan(found.def, req.executor);
      return req.with_source ? { plan, source: found.source } : plan;
    }),
  ];

  // GET /metrics (and /healthz) on METRICS_PORT unless "off"; 0 picks a free port, logged as metrics_port.
  const metricsServer = await serveMetricsFromEnv(metrics.registry, env.METRICS_PORT);

  return {
    readyInfo: metricsServer ? { metrics_port: metricsServer.port } : {},
    stop: async () => {
      for (const s of subs) s.unsubscribe();
      await nc.drain();
      if (metricsServer) await new Promise<void>((resolve) => metricsServer.server.close(() => resolve()));
    },
  };
});
