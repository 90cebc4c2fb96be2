// Redis connection for the replay cache and liveness data.
import { Redis } from "ioredis";
import type { Logger } from "./logger.ts";

export type { Redis };

export function connectRedis(url: string, log: Logger): Redis {
  const redis = new Redis(url, {
    // Commands fail after a short while instead of queueing forever: Redis holds only
    // rebuildable data, and callers treat a failed write as best effort.
    maxRetriesPerRequest: 2,
    retryStrategy: (times) => Math.min(50 * times, 1000),
    lazyConnect: false,
    // Commands issued in one event-loop turn go out as one pipeline (one socket write), as the
    // NATS connection does (nats-request-patch.ts): the runner's leases and replay-cache
    // writes, the gateway's quota scripts and the kernel's task index all issue a few each.
    enableAutoPipelining: true,
  });
  let down = false;
  redis.on("error", (err) => {
    if (!down) log.warn({ err: err.message }, "redis error");
    down = true;
  });
  redis.on("ready", () => {
    if (down) log.info("redis reconnected");
    down = false;
  });
  return redis;
}
