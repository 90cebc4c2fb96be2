// The quota scripts against a real redis-server: each limit refuses with its 429 details and
// Retry-After, a limit of 0 is off, and the scripts still run after Redis forgot them (SCRIPT
// FLUSH, as after a restart: EVALSHA answers NOSCRIPT and the script is sent again).

import { redisKeys } from "@switchyard/contracts";
import { type RedisServer, startRedis } from "@switchyard/devkit";
import { connectRedis, createLogger, type Redis } from "@switchyard/runtime";
import type { FastifyReply, FastifyRequest } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GatewayEnv } from "./env.ts";
import { HttpProblem } from "./http-errors.ts";
import { Quotas } from "./quotas.ts";

const log = createLogger("gateway-test", { level: "silent", format: "json" });
let redisServer: RedisServer;
let redis: Redis;
const opened: Quotas[] = [];

beforeAll(async () => {
  redisServer = await startRedis();
  redis = connectRedis(redisServer.url, log);
}, 30_000);
afterAll(async () => {
  for (const q of opened) q.close();
  redis?.disconnect();
  await redisServer?.stop();
});

function quotas(vars: Record<string, string>): Quotas {
  const q = new Quotas(redis, GatewayEnv.parse(vars), log);
  opened.push(q);
  return q;
}

/** The reply's headers as the quota set them; `close` ends the (SSE) response. */
function fakeReply(): { reply: FastifyReply; headers: Map<string, string>; close: () => void } {
  const headers = new Map<string, string>();
  const listeners: (() => void)[] = [];
  const reply = {
    header: (name: string, value: string) => headers.set(name, value),
    raw: { once: (_event: string, fn: () => void) => listeners.push(fn) },
  } as unknown as FastifyReply;
  const close = () => {
    for (const fn of listeners.splice(0)) fn();
  };
  return { reply, headers, close };
}
const sseRequest = { headers: {} } as unknown as FastifyRequest;

async function refusal(p: Promise<unknown>): Promise<HttpProblem> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HttpProblem);
  return err as HttpProblem;
}

/** Counts `n` submits for `tenant` in each of the next seconds, so a check in any of them is over a limit of `n`. */
async function fillSeconds(tenant: string, n: number): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  for (let s = now; s < now + 30; s++) await redis.set(redisKeys.tenantSubmits(tenant, s), String(n), "EX", 60);
}

describe("Quotas", () => {
  it("submits per second: over the rate is 429 with Retry-After 1", async () => {
    const q = quotas({ RATE_SUBMITS_PER_S: "3", MAX_ACTIVE_TASKS_PER_TENANT: "0" });
    const under = fakeReply();
    await q.checkSubmit("rate-under", under.reply);
    expect(under.headers.size).toBe(0);
    await fillSeconds("rate-over", 3);
    const over = fakeReply();
    const p = await refusal(q.checkSubmit("rate-over", over.reply));
    expect(p).toMatchObject({ code: "rate_limited", status: 429, details: { quota: "submits_per_second", limit: 3 } });
    expect(over.headers.get("retry-after")).toBe("1");
  });

  it("unfinished tasks: at the limit is 429 naming the count, with Retry-After 5", async () => {
    const q = quotas({ RATE_SUBMITS_PER_S: "0", MAX_ACTIVE_TASKS_PER_TENANT: "2" });
    await redis.sadd(redisKeys.tenantActive("busy"), "t1");
    await q.checkSubmit("busy", fakeReply().reply);
    await redis.sadd(redisKeys.tenantActive("busy"), "t2");
    const r = fakeReply();
    const p = await refusal(q.checkSubmit("busy", r.reply));
    expect(p).toMatchObject({ code: "rate_limited", details: { quota: "active_tasks", limit: 2, used: 2 } });
    expect(r.headers.get("retry-after")).toBe("5");
  });

  it("limits of 0 are off: nothing is counted or refused", async () => {
    const q = quotas({ RATE_SUBMITS_PER_S: "0", MAX_ACTIVE_TASKS_PER_TENANT: "0" });
    await fillSeconds("off", 1_000_000);
    await redis.sadd(redisKeys.tenantActive("off"), "t1", "t2", "t3");
    await q.checkSubmit("off", fakeReply().reply);
    const second = Math.floor(Date.now() / 1000);
    expect(await redis.get(redisKeys.tenantSubmits("off", second))).toBe("1000000");
  });

  it("the rate counts each submit in a counter of its second, which expires", async () => {
    const q = quotas({ RATE_SUBMITS_PER_S: "1000", MAX_ACTIVE_TASKS_PER_TENANT: "0" });
    await q.checkSubmit("counted", fakeReply().reply);
    const keys = await redis.keys(redisKeys.tenantSubmits("counted", 0).replace(/0$/, "*"));
    expect(keys).toHaveLength(1);
    expect(Number(await redis.get(keys[0] as string))).toBe(1);
    const ttl = await redis.pttl(keys[0] as string);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(2000);
  });

  it("open streams: the slot past the limit is 429; a closed stream gives its slot back", async () => {
    const q = quotas({ MAX_STREAMS_PER_TENANT: "2" });
    const first = fakeReply();
    await q.openStream("streamer", sseRequest, first.reply);
    await q.openStream("streamer", sseRequest, fakeReply().reply);
    const third = fakeReply();
    const p = await refusal(q.openStream("streamer", sseRequest, third.reply));
    expect(p).toMatchObject({ code: "rate_limited", details: { quota: "streams", limit: 2 } });
    expect(third.headers.get("retry-after")).toBe("5");
    first.close();
    await eventuallyCard(redisKeys.tenantStreams("streamer"), 1);
    await q.openStream("streamer", sseRequest, fakeReply().reply);
  });

  it("runs the scripts again after Redis forgot them (NOSCRIPT)", async () => {
    const q = quotas({ RATE_SUBMITS_PER_S: "1000", MAX_ACTIVE_TASKS_PER_TENANT: "1", MAX_STREAMS_PER_TENANT: "1" });
    await q.checkSubmit("flushed", fakeReply().reply);
    await q.openStream("flushed", sseRequest, fakeReply().reply);
    await redis.script("FLUSH");
    await redis.sadd(redisKeys.tenantActive("flushed"), "t1");
    const p = await refusal(q.checkSubmit("flushed", fakeReply().reply));
    expect(p.details).toMatchObject({ quota: "active_tasks", used: 1 });
    await redis.script("FLUSH");
    const s = await refusal(q.openStream("flushed", sseRequest, fakeReply().reply));
    expect(s.details).toMatchObject({ quota: "streams" });
  });
});

/** The release is fire-and-forget: wait for Redis to show it. */
async function eventuallyCard(key: string, n: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await redis.zcard(key)) === n) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${key} never held ${n} members`);
}
