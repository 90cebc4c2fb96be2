// Live runner nodes, from their heartbeat records in Redis. A node whose record expired is
// gone: it is pruned from the node set here.
import { RunnerNode, redisKeys } from "@switchyard/contracts";
import type { FastifyInstance } from "fastify";
import type { GatewayContext } from "../context.ts";
import { HttpProblem } from "../http-errors.ts";

export function runnerRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  app.get("/v1/runners", async () => {
    let ids: string[];
    let records: (string | null)[];
    try {
      ids = (await ctx.redis.smembers(redisKeys.nodes)).sort();
      records = ids.length ? await ctx.redis.mget(...ids.map((id) => redisKeys.node(id))) : [];
    } catch {
      throw new HttpProblem("unavailable", "runner registry (Redis) is unreachable");
    }
    const items: RunnerNode[] = [];
    const gone: string[] = [];
    for (const [i, id] of ids.entries()) {
      const raw = records[i];
      if (!raw) {
        gone.push(id);
        continue;
      }
      try {
        const parsed = RunnerNode.safeParse(JSON.parse(raw));
        if (parsed.success) items.push(parsed.data);
      } catch {
        /* a corrupt record is skipped */
      }
    }
    if (gone.length) void ctx.redis.srem(redisKeys.nodes, ...gone).catch(() => undefined);
    return { items };
  });
}
