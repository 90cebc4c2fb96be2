// What every route needs: connections, buckets, config, and the caller's tenant.
import type { JetStreamClient, KV, Logger, NatsConnection, Redis } from "@switchyard/runtime";
import type { FastifyRequest } from "fastify";
import type { GatewayEnv } from "./env.ts";
import { HttpProblem } from "./http-errors.ts";
import type { SubmitWaiter } from "./submit-waiter.ts";

export interface GatewayContext {
  nc: NatsConnection;
  js: JetStreamClient;
  tasks: KV;
  agents: KV;
  idempotency: KV;
  redis: Redis;
  env: GatewayEnv;
  log: Logger;
  submitWaiter: SubmitWaiter;
}

/** Resolves the caller's tenant: from the bearer token when API_KEYS is set. */
export function tenantResolver(env: GatewayEnv): (req: FastifyRequest) => string {
  const keys = new Map<string, string>();
  for (const pair of env.API_KEYS.split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const i = pair.lastIndexOf(":");
    if (i <= 0) throw new Error("API_KEYS: each entry must be token:tenant");
    keys.set(pair.slice(0, i), pair.slice(i + 1));
  }
  if (keys.size === 0) return () => env.DEFAULT_TENANT;
  return (req) => {
    const auth = req.headers.authorization ?? "";
    const token = auth.startsWith("Bearer ") ? auth.slice(7).trim() : "";
    const tenant = keys.get(token);
    if (!tenant) throw new HttpProblem("unauthorized", "missing or unknown bearer token");
    return tenant;
  };
}
