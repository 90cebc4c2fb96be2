// What every route needs: connections, buckets, config, and the caller's tenant.

import { Slug } from "@switchyard/contracts";
import type { JetStreamClient, JetStreamManager, KV, Logger, NatsConnection, Redis } from "@switchyard/runtime";
import type { FastifyRequest } from "fastify";
import type { GatewayEnv } from "./env.ts";
import { HttpProblem } from "./http-errors.ts";
import type { AnswerWaiter, SubmitWaiter } from "./submit-waiter.ts";

export interface GatewayContext {
  nc: NatsConnection;
  js: JetStreamClient;
  tasks: KV;
  agents: KV;
  idempotency: KV;
  /** Runner kinds and their config schemas (written by runner nodes). */
  runnerKinds: KV;
  /** Registered operators (written by the spawner). */
  operators: KV;
  jsm: JetStreamManager;
  redis: Redis;
  env: GatewayEnv;
  log: Logger;
  submitWaiter: SubmitWaiter;
  answerWaiter: AnswerWaiter;
}

/** Resolves the caller's tenant: from the bearer token when API_KEYS is set. */
export function tenantResolver(env: GatewayEnv): (req: FastifyRequest) => string {
  const keys = new Map<string, string>();
  for (const pair of env.API_KEYS.split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const i = pair.lastIndexOf(":");
    if (i <= 0) throw new Error("API_KEYS: each entry must be token:tenant");
    const tenant = pair.slice(i + 1);
    if (!Slug.safeParse(tenant).success) throw new Error(`API_KEYS: tenant ${JSON.stringify(tenant)} must be a slug ([a-z0-9][a-z0-9_-]*)`);
    keys.set(pair.slice(0, i), tenant);
  }
  if (keys.size === 0) return () => env.DEFAULT_TENANT;
  return (req) => {
    const auth = req.headers.authorization ?? "";
    // The auth scheme is case-insensitive (RFC 7235).
    const token = /^bearer /i.test(auth) ? auth.slice(7).trim() : "";
    const tenant = keys.get(token);
    if (!tenant) throw new HttpProblem("unauthorized", "missing or unknown bearer token");
    return tenant;
  };
}
