// NATS connection and the JetStream topology (streams and KV buckets). Every service
// ensures the topology at boot, so services can start in any order.

import {
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { BUCKETS, OPERATOR_TTL_MS, STREAMS, subjects } from "@switchyard/contracts";
import type { BaseEnv } from "./env.ts";
import type { Logger } from "./logger.ts";
import { patchNatsRequests } from "./nats-request-patch.ts";

export type { JetStreamClient, JetStreamManager, KV, NatsConnection };

export async function connectNats(url: string, name: string, log: Logger): Promise<NatsConnection> {
  if (!patchNatsRequests()) log.warn("nats request patch not applied: @nats-io/nats-core changed shape; see nats-request-patch.ts");
  const nc = await connect({
    servers: url.split(",").map((s) => s.trim()),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    waitOnFirstConnect: true,
    pingInterval: 10_000,
    // No Error (with a captured stack) built up front for every request and timer.
    noAsyncTraces: true,
  });
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect" || s.type === "reconnect" || s.type === "error") log.warn({ nats: s.type }, `nats ${s.type}`);
    }
  })();
  return nc;
}

/** The stream settings every service reads from its environment (see BaseEnv). */
export type TopologyOptions = Pick<BaseEnv, "EVENTS_MAX_AGE_HOURS" | "EVENTS_MAX_MB" | "CMD_DUPLICATE_WINDOW_S">;

export interface Topology {
  js: JetStreamClient;
  jsm: JetStreamManager;
  tasks: KV;
  agents: KV;
  idempotency: KV;
  active: KV;
  runnerKinds: KV;
  /** Model providers and MCP servers of runner nodes (KV sy_runner_caps). */
  runnerCaps: KV;
  operators: KV;
}

const HOUR_NS = 3_600_000_000_000;

function streamConfigs(opts: TopologyOptions): (Partial<StreamConfig> & { name: string })[] {
  return [
    {
      name: STREAMS.cmd,
      subjects: [subjects.cmdAll],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      duplicate_window: opts.CMD_DUPLICATE_WINDOW_S * 1_000_000_000,
    },
    { name: STREAMS.work, subjects: [subjects.workAll], retention: RetentionPolicy.Workqueue, storage: StorageType.File },
    {
      name: STREAMS.events,
      subjects: [subjects.eventsAll],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      max_age: Math.round(opts.EVENTS_MAX_AGE_HOURS * HOUR_NS),
      max_bytes: opts.EVENTS_MAX_MB < 0 ? -1 : opts.EVENTS_MAX_MB * 1024 * 1024,
      discard: DiscardPolicy.Old,
      duplicate_window: 120 * 1_000_000_000,
    },
  ];
}

export async function ensureTopology(nc: NatsConnection, opts: TopologyOptions): Promise<Topology> {
  const jsm = await jetstreamManager(nc);
  for (const cfg of streamConfigs(opts)) {
    try {
      await jsm.streams.info(cfg.name);
      await jsm.streams.update(cfg.name, cfg);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        await jsm.streams.add(cfg);
      } catch (addErr) {
        // Another service created it between our info and add.
        if (!/already in use|exists/i.test(String(addErr))) throw addErr;
      }
    }
  }
  const js = jetstream(nc);
  const kvm = new Kvm(js);
  const [tasks, agents, idempotency, active, runnerKinds, operators, runnerCaps] = await Promise.all([
    kvm.create(BUCKETS.tasks, { history: 1, storage: StorageType.File }),
    kvm.create(BUCKETS.agents, { history: 5, storage: StorageType.File }),
    kvm.create(BUCKETS.idempotency, { history: 1, storage: StorageType.File, ttl: 7 * 24 * 3_600_000 }),
    kvm.create(BUCKETS.active, { history: 1, storage: StorageType.File }),
    kvm.create(BUCKETS.runnerKinds, { history: 1, storage: StorageType.File }),
    // An operator that stops re-registering (it died, its WebSocket closed) expires.
    kvm.create(BUCKETS.operators, { history: 1, storage: StorageType.Memory, ttl: OPERATOR_TTL_MS }),
    kvm.create(BUCKETS.runnerCaps, { history: 1, storage: StorageType.File }),
  ]);
  return { js, jsm, tasks, agents, idempotency, active, runnerKinds, operators, runnerCaps };
}

function isNotFound(err: unknown): boolean {
  return /not found/i.test(String((err as Error)?.message ?? err));
}
