// Live runner nodes, from their heartbeat records in Redis.
import { listRunnerNodes } from "@switchyard/runtime";
import type { FastifyInstance } from "fastify";
import type { GatewayContext } from "../context.ts";
import { HttpProblem } from "../http-errors.ts";

export function runnerRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  app.get("/v1/runners", async () => {
    try {
      return { items: await listRunnerNodes(ctx.redis) };
    } catch {
      throw new HttpProblem("unavailable", "runner registry (Redis) is unreachable");
    }
  });
}
