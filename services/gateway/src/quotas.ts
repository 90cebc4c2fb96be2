// Per-tenant quotas and rate limits, kept in Redis so every gateway shares them (docs/SECURITY.md):
// submits per second, unfinished tasks, open SSE streams and operator WebSockets. One preHandler
// hook applies them by route; a refusal is 429 `rate_limited` with
// Retry-After. (Agents per tenant are the spawner's: MAX_AGENTS_PER_TENANT.)
//
// Redis unreachable: quotas are not enforced (fail open) and a warning is logged; Redis holds
// only rebuildable data, and a quota store outage must not stop every tenant's work.
import { randomUUID } from "node:crypto";
import { redisKeys } from "@switchyard/contracts";
import type { Logger, Redis } from "@switchyard/runtime";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { routeKey } from "./auth.ts";
import type { GatewayEnv } from "./env.ts";
import { HttpProblem } from "./http-errors.ts";

/** A stream slot not refreshed for this long belongs to a gateway that died: it no longer counts. */
const STREAM_STALE_MS = 60_000;
const STREAM_REFRESH_MS = 20_000;

// KEYS[1] the second's counter, KEYS[2] the tenant's unfinished tasks; ARGV[1] the rate limit,
// ARGV[2] the active limit (0: not checked). Returns {count after this submit or -1 when over
// the rate, or 0 when the rate is off; unfinished tasks, or -1 when not checked}: one command.
const CHECK_SUBMIT = `
local n = 0
if tonumber(ARGV[1]) > 0 then
  n = redis.call('INCR', KEYS[1])
  if n == 1 then redis.call('PEXPIRE', KEYS[1], 2000) end
  if n > tonumber(ARGV[1]) then n = -1 end
end
local active = -1
if tonumber(ARGV[2]) > 0 then active = redis.call('SCARD', KEYS[2]) end
return {n, active}`;

// KEYS[1] the tenant's stream set; ARGV: now, stale-before, limit, member. 1: acquired, 0: full.
const ACQUIRE_STREAM = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ${STREAM_STALE_MS * 2})
return 1`;

/**
 * The scripts as ioredis commands: each goes out as EVALSHA (the script's first use on a
 * connection sends it whole, and a NOSCRIPT after a Redis restart resends it), not as an EVAL
 * that ships and hashes the script on every request.
 */
interface QuotaCommands {
  syCheckSubmit(counterKey: string, activeKey: string, rate: number, maxActive: number): Promise<[number, number]>;
  syAcquireStream(key: string, now: number, staleBefore: number, limit: number, member: string): Promise<number>;
}

function withQuotaCommands(redis: Redis): Redis & QuotaCommands {
  redis.defineCommand("syCheckSubmit", { numberOfKeys: 2, lua: CHECK_SUBMIT });
  redis.defineCommand("syAcquireStream", { numberOfKeys: 1, lua: ACQUIRE_STREAM });
  return redis as Redis & QuotaCommands;
}

const STREAM_ROUTES = new Set(["GET /v1/tasks/:id/events", "GET /v1/operators/:id/connect"]);

function tooMany(reply: FastifyReply, retryAfterS: number, message: string, details: Record<string, unknown>): HttpProblem {
  reply.header("retry-after", String(retryAfterS));
  return new HttpProblem("rate_limited", message, details);
}

export class Quotas {
  readonly #redis: Redis & QuotaCommands;
  readonly #env: GatewayEnv;
  readonly #log: Logger;
  readonly #gatewayId = randomUUID();
  /** Open stream slots of this gateway: member → tenant, refreshed while open. */
  readonly #open = new Map<string, string>();
  #seq = 0;
  readonly #refresh: NodeJS.Timeout;
  #warned = false;

  constructor(redis: Redis, env: GatewayEnv, log: Logger) {
    this.#redis = withQuotaCommands(redis);
    this.#env = env;
    this.#log = log;
    this.#refresh = setInterval(() => void this.#refreshAll(), STREAM_REFRESH_MS);
    this.#refresh.unref();
  }

  close(): void {
    clearInterval(this.#refresh);
  }

  #failOpen(err: unknown): void {
    if (!this.#warned) this.#log.warn({ err: (err as Error).message }, "quotas not enforced: Redis is unreachable");
    this.#warned = true;
  }

  /** Submits per second and unfinished tasks of the tenant. */
  async checkSubmit(tenant: string, reply: FastifyReply): Promise<void> {
    const { RATE_SUBMITS_PER_S: rate, MAX_ACTIVE_TASKS_PER_TENANT: maxActive } = this.#env;
    if (rate <= 0 && maxActive <= 0) return;
    let count: number;
    let active: number;
    try {
      const second = Math.floor(Date.now() / 1000);
      [count, active] = await this.#redis.syCheckSubmit(redisKeys.tenantSubmits(tenant, second), redisKeys.tenantActive(tenant), rate, maxActive);
      this.#warned = false;
    } catch (err) {
      this.#failOpen(err);
      return;
    }
    if (count === -1) {
      throw tooMany(reply, 1, `tenant '${tenant}' submits more than ${rate} tasks per second (RATE_SUBMITS_PER_S)`, {
        quota: "submits_per_second",
        limit: rate,
      });
    }
    if (maxActive > 0 && active >= maxActive) {
      throw tooMany(reply, 5, `tenant '${tenant}' has ${active} unfinished tasks, the most it may have (MAX_ACTIVE_TASKS_PER_TENANT)`, {
        quota: "active_tasks",
        limit: maxActive,
        used: active,
      });
    }
  }

  /** A slot for an SSE stream or an operator WebSocket, given back when its connection closes. */
  async openStream(tenant: string, req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const limit = this.#env.MAX_STREAMS_PER_TENANT;
    if (limit <= 0) return;
    const member = `${this.#gatewayId}:${++this.#seq}`;
    const key = redisKeys.tenantStreams(tenant);
    let got: number;
    try {
      const now = Date.now();
      got = Number(await this.#redis.syAcquireStream(key, now, now - STREAM_STALE_MS, limit, member));
      this.#warned = false;
    } catch (err) {
      this.#failOpen(err);
      return;
    }
    if (got !== 1) {
      throw tooMany(reply, 5, `tenant '${tenant}' has ${limit} open streams and WebSockets, the most it may have (MAX_STREAMS_PER_TENANT)`, {
        quota: "streams",
        limit,
      });
    }
    this.#open.set(member, tenant);
    const release = () => {
      if (!this.#open.delete(member)) return;
      void this.#redis.zrem(key, member).catch(() => undefined); // a slot left behind goes stale in STREAM_STALE_MS
    };
    // A WebSocket holds its TCP connection alone; an SSE response ends on the response's close.
    if (req.headers.upgrade) req.raw.socket.once("close", release);
    else reply.raw.once("close", release);
  }

  async #refreshAll(): Promise<void> {
    if (this.#open.size === 0) return;
    const now = Date.now();
    const p = this.#redis.pipeline();
    for (const [member, tenant] of this.#open) p.zadd(redisKeys.tenantStreams(tenant), "XX", now, member);
    await p.exec().catch(() => undefined);
  }
}

/**
 * Registers the quota checks (they need the caller's tenant, set by `authHook`). A preHandler,
 * after the body is read: a Redis round trip before it would let a malformed or oversized
 * request be answered by Node's parser instead of with its own 400/413.
 */
export function quotaHook(app: FastifyInstance, quotas: Quotas): void {
  // Callback style: a route without a quota goes on at once, without a promise or microtask hop.
  app.addHook("preHandler", (req, reply, done) => {
    const check = quotaOf(quotas, req, reply);
    if (check) check.then(() => done(), done);
    else done();
  });
}

/** The quota check a request's route needs, if any. */
function quotaOf(quotas: Quotas, req: FastifyRequest, reply: FastifyReply): Promise<void> | undefined {
  if (!req.principal) return undefined;
  const key = routeKey(req);
  if (key === "POST /v1/tasks") return quotas.checkSubmit(req.principal.tenant, reply);
  if (key !== undefined && STREAM_ROUTES.has(key)) return quotas.openStream(req.principal.tenant, req, reply);
  return undefined;
}
