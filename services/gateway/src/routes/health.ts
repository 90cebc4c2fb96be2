// Liveness and readiness (NATS and Redis reachable).
import { Health } from "@switchyard/contracts";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { GatewayContext } from "../context.ts";

export function healthRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  app.get("/healthz", { schema: { summary: "Liveness", response: { 200: z.object({ status: z.literal("ok") }) } } }, async () => ({ status: "ok" }));
  const readySchema = { summary: "Readiness: NATS and Redis reachable", response: { 200: Health, 503: Health } };
  app.get("/readyz", { schema: readySchema }, async (_req, reply) => {
    const checks: Record<string, string> = {};
    try {
      await ctx.nc.flush();
      checks.nats = ctx.nc.isClosed() ? "closed" : "ok";
    } catch (err) {
      checks.nats = (err as Error).message;
    }
    try {
      checks.redis =
        (await Promise.race([ctx.redis.ping(), new Promise((_, rej) => setTimeout(() => rej(new Error("timeout")), 1000))])) === "PONG"
          ? "ok"
          : "unexpected reply";
    } catch (err) {
      checks.redis = (err as Error).message;
    }
    const ok = Object.values(checks).every((v) => v === "ok");
    return reply.code(ok ? 200 : 503).send({ status: ok ? "ok" : "unavailable", checks });
  });
}
