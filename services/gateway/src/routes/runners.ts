// Live runner nodes (Redis heartbeats) and the runner kinds they serve, with each kind's
// queue depth in SY_WORK and its registered config schema (KV sy_runner_kinds).
import { type RunnerKindInfo, RunnerKindList, RunnerList } from "@switchyard/contracts";
import { listRunnerKinds, listRunnerNodes, workQueueDepths } from "@switchyard/runtime";
import type { FastifyInstance } from "fastify";
import type { GatewayContext } from "../context.ts";
import { HttpProblem } from "../http-errors.ts";
import { problems } from "../route-schemas.ts";

export function runnerRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  app.get("/v1/runners", { schema: { summary: "Live runner nodes", response: { 200: RunnerList, ...problems(503) } } }, async () => {
    try {
      return { items: await listRunnerNodes(ctx.redis) };
    } catch {
      throw new HttpProblem("unavailable", "runner registry (Redis) is unreachable");
    }
  });

  // Kinds served now, plus kinds with work waiting and no node (orphans), sorted by kind.
  const kindsSchema = { summary: "Runner kinds: nodes, free slots, queue depth", response: { 200: RunnerKindList, ...problems(503) } };
  app.get("/v1/runner-kinds", { schema: kindsSchema }, async () => {
    let nodes: Awaited<ReturnType<typeof listRunnerNodes>>;
    try {
      nodes = await listRunnerNodes(ctx.redis);
    } catch {
      throw new HttpProblem("unavailable", "runner registry (Redis) is unreachable");
    }
    let records: Awaited<ReturnType<typeof listRunnerKinds>>;
    let depths: Map<string, number>;
    try {
      [records, depths] = await Promise.all([listRunnerKinds(ctx.runnerKinds), workQueueDepths(ctx.jsm)]);
    } catch {
      throw new HttpProblem("unavailable", "runner-kind registry or work queue (NATS) is unreachable");
    }
    const byKind = new Map<string, RunnerKindInfo>();
    const entry = (kind: string): RunnerKindInfo => {
      let e = byKind.get(kind);
      if (!e) {
        e = { kind, nodes: 0, free_slots: 0, queue_depth: depths.get(kind) ?? 0, registered: false };
        byKind.set(kind, e);
      }
      return e;
    };
    for (const n of nodes) {
      if (n.draining) continue;
      for (const k of n.kinds) {
        const e = entry(k);
        e.nodes += 1;
        e.free_slots += n.slots.free;
      }
    }
    for (const [kind, depth] of depths) if (depth > 0) entry(kind);
    for (const r of records) {
      const e = byKind.get(r.kind);
      if (e) Object.assign(e, { registered: true, description: r.description, config_schema: r.config_schema });
    }
    return { items: [...byKind.values()].sort((a, b) => a.kind.localeCompare(b.kind)) };
  });
}
