// SY_REPLICAS on a real 3-node cluster: every stream and KV bucket is created with it, and a
// topology created at R1 is raised to R3 by the next boot, with no manual `nats stream edit`.
import { BUCKETS, STREAMS } from "@switchyard/contracts";
import { type NatsCluster, startNatsCluster } from "@switchyard/devkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "./logger.ts";
import { connectNats, ensureTopology, type NatsConnection } from "./nats.ts";

const OPTS = { EVENTS_MAX_AGE_HOURS: 1, EVENTS_MAX_MB: 16, CMD_DUPLICATE_WINDOW_S: 60 };
const ALL = [...Object.values(STREAMS), ...Object.values(BUCKETS).map((b) => `KV_${b}`)];

let cluster: NatsCluster;
let nc: NatsConnection;

beforeAll(async () => {
  cluster = await startNatsCluster();
  nc = await connectNats(cluster.url, "replicas-test", createLogger("replicas-test", { level: "silent", format: "json" }));
}, 60_000);

afterAll(async () => {
  await nc?.close();
  await cluster?.stop();
});

async function replicasOf(topo: Awaited<ReturnType<typeof ensureTopology>>): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const name of ALL) {
    const info = await topo.jsm.streams.info(name);
    out[name] = info.config.num_replicas;
    // The stream is placed on that many peers (the leader and its replicas).
    expect(1 + (info.cluster?.replicas?.length ?? 0), `${name} peers`).toBeGreaterThanOrEqual(info.config.num_replicas);
  }
  return out;
}

describe("SY_REPLICAS", () => {
  it("creates every stream and bucket at R1, then a boot with SY_REPLICAS=3 raises them all to R3", async () => {
    const r1 = await replicasOf(await ensureTopology(nc, { ...OPTS, SY_REPLICAS: 1 }));
    expect(r1).toEqual(Object.fromEntries(ALL.map((n) => [n, 1])));
    const r3 = await replicasOf(await ensureTopology(nc, { ...OPTS, SY_REPLICAS: 3 }));
    expect(r3).toEqual(Object.fromEntries(ALL.map((n) => [n, 3])));
    // A second boot at R3 (another service) changes nothing and does not fail.
    expect(await replicasOf(await ensureTopology(nc, { ...OPTS, SY_REPLICAS: 3 }))).toEqual(r3);
  }, 90_000);
});
