// Counts reconnects of a process's NATS and Redis connections in sy_reconnects_total{to}: a
// rising rate is the first sign of a flapping server or network.
import type { NatsConnection } from "@nats-io/transport-node";
import type { Redis } from "ioredis";
import type { ServiceMetrics } from "./metrics.ts";

export function countReconnects(metrics: ServiceMetrics, conns: { nc?: NatsConnection; redis?: Redis }): void {
  const { nc, redis } = conns;
  if (nc) {
    void (async () => {
      for await (const s of nc.status()) if (s.type === "reconnect") metrics.reconnects.inc({ to: "nats" });
    })();
  }
  if (redis) {
    // "ready" after an "error" or "end": the connection came back (the first "ready" is not a reconnect).
    let lost = false;
    redis.on("reconnecting", () => {
      lost = true;
    });
    redis.on("ready", () => {
      if (lost) metrics.reconnects.inc({ to: "redis" });
      lost = false;
    });
  }
}
