// Liveness against a real redis-server: the batched lease renewal renews what is ours,
// re-asserts what Redis lost, and reports exactly the leases another run took.
import { type RunnerNode, redisKeys } from "@switchyard/contracts";
import { type RedisServer, startRedis } from "@switchyard/devkit";
import { connectRedis, createLogger, type Redis } from "@switchyard/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Liveness } from "./liveness.ts";

const log = createLogger("liveness-test", { level: "silent", format: "json" });
const node = (): RunnerNode => ({
  id: "node-a",
  kinds: ["local"],
  slots: { total: 4, used: 0, free: 4 },
  version: "test",
  started_at: new Date(0).toISOString(),
  last_heartbeat: new Date().toISOString(),
  draining: false,
});

describe("Liveness", () => {
  let server: RedisServer;
  let redis: Redis;
  beforeAll(async () => {
    server = await startRedis();
    redis = connectRedis(server.url, log);
  });
  afterAll(async () => {
    redis.disconnect();
    await server.stop();
  });

  it("renews its leases in chunks, re-asserts lost ones, and reports only the ones taken", async () => {
    const live = new Liveness(redis, node, { heartbeatMs: 60_000, nodeTtlMs: 3000, leaseTtlMs: 5000 }, log);
    const lost: string[] = [];
    live.onLeaseLost = (taskId, runId) => lost.push(`${taskId}/${runId}`);
    // More than one chunk (500), so the index mapping across chunks is exercised.
    const n = 1203;
    for (let i = 0; i < n; i++) live.acquireLease(`t${i}`, `r${i}`);
    await redis.ping(); // the lease writes went out before this reply
    await redis.set(redisKeys.lease("t7"), "other-run", "PX", 5000); // fenced: another run holds it
    await redis.set(redisKeys.lease("t1100"), "other-run", "PX", 5000);
    await redis.del(redisKeys.lease("t600")); // Redis forgot it: re-assert
    await redis.pexpire(redisKeys.lease("t0"), 100); // about to lapse: renewed to the full TTL

    await live.beat();

    expect(lost.sort()).toEqual(["t1100/r1100", "t7/r7"]);
    expect(live.leaseCount).toBe(n - 2);
    expect(await redis.get(redisKeys.lease("t600"))).toBe("r600");
    expect(await redis.get(redisKeys.lease("t7"))).toBe("other-run");
    expect(await redis.pttl(redisKeys.lease("t0"))).toBeGreaterThan(1000);
    expect(await redis.exists(redisKeys.node("node-a"))).toBe(1);

    // A second beat reports nothing new: the lost runs are no longer renewed.
    await live.beat();
    expect(lost).toHaveLength(2);
    expect(await redis.get(redisKeys.lease("t7"))).toBe("other-run");
  });
});
