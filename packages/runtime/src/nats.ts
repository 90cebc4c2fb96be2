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
import { type BaseEnv, taskRetentionHours } from "./env.ts";
import type { Logger } from "./logger.ts";
import { isStreamNotFound } from "./nats-errors.ts";
import { patchNatsRequests, patchNatsWrites } from "./nats-request-patch.ts";

export type { JetStreamClient, JetStreamManager, KV, NatsConnection };

export async function connectNats(url: string, name: string, log: Logger): Promise<NatsConnection> {
  if (!patchNatsRequests()) log.warn("nats request patch not applied: @nats-io/nats-core changed shape; see nats-request-patch.ts");
  if (!patchNatsWrites()) log.warn("nats write batching not applied: @nats-io/nats-core changed shape; see nats-request-patch.ts");
  const nc = await connect({
    ...natsServers(url),
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

/**
 * NATS_URL to connection options: `nats://user:pass@host:4222` gives a user and password,
 * `nats://token@host:4222` a token (nats.js reads neither from the URL itself). Credentials are
 * taken from the first server that carries them and stripped from every server URL (the client
 * would otherwise print them in errors and status events).
 */
export function natsServers(url: string): { servers: string[]; user?: string; pass?: string; token?: string } {
  const out: { servers: string[]; user?: string; pass?: string; token?: string } = { servers: [] };
  for (const raw of url
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^([a-z]+:\/\/)?(?:([^:@/]*)(?::([^@/]*))?@)?(.*)$/i.exec(raw);
    const [, scheme = "", user, pass, rest = ""] = m ?? [];
    if (user !== undefined && out.user === undefined && out.token === undefined) {
      if (pass !== undefined) {
        out.user = decodeURIComponent(user);
        out.pass = decodeURIComponent(pass);
      } else out.token = decodeURIComponent(user);
    }
    out.servers.push(`${scheme}${rest}`);
  }
  return out;
}

/** The stream settings every service reads from its environment (see BaseEnv). */
export type TopologyOptions = Pick<BaseEnv, "EVENTS_MAX_AGE_HOURS" | "EVENTS_MAX_MB" | "CMD_DUPLICATE_WINDOW_S"> &
  Partial<Pick<BaseEnv, "TASK_RETENTION_HOURS">> & {
    /** Replicas of every stream and bucket (SY_REPLICAS); default 1. */
    SY_REPLICAS?: number;
  };

export interface Topology {
  js: JetStreamClient;
  jsm: JetStreamManager;
  tasks: KV;
  agents: KV;
  idempotency: KV;
  runnerKinds: KV;
  /** Model providers and MCP servers of runner nodes (KV sy_runner_caps). */
  runnerCaps: KV;
  operators: KV;
  /** API keys (watched by gateways, written by `./switchyard keys`). */
  apiKeys: KV;
}

const HOUR_NS = 3_600_000_000_000;

function streamConfigs(opts: TopologyOptions): (Partial<StreamConfig> & { name: string })[] {
  const num_replicas = opts.SY_REPLICAS ?? 1;
  return [
    {
      name: STREAMS.cmd,
      subjects: [subjects.cmdAll],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      duplicate_window: opts.CMD_DUPLICATE_WINDOW_S * 1_000_000_000,
      num_replicas,
    },
    { name: STREAMS.work, subjects: [subjects.workAll], retention: RetentionPolicy.Workqueue, storage: StorageType.File, num_replicas },
    {
      name: STREAMS.events,
      subjects: [subjects.eventsAll],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      max_age: Math.round(opts.EVENTS_MAX_AGE_HOURS * HOUR_NS),
      max_bytes: opts.EVENTS_MAX_MB < 0 ? -1 : opts.EVENTS_MAX_MB * 1024 * 1024,
      discard: DiscardPolicy.Old,
      duplicate_window: 120 * 1_000_000_000,
      num_replicas,
    },
  ];
}

/**
 * Creates or updates every stream and bucket. Retried on a JetStream API timeout: on a busy
 * cluster, placing R3 streams (a raft group each) can outlast one request's 5 s.
 */
export async function ensureTopology(nc: NatsConnection, opts: TopologyOptions): Promise<Topology> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await ensureTopologyOnce(nc, opts);
    } catch (err) {
      if (attempt >= 4 || !isTimeout(err)) throw err;
    }
  }
}

function isTimeout(err: unknown): boolean {
  return (err as Error)?.name === "TimeoutError" || /timeout/i.test(String((err as Error)?.message ?? ""));
}

async function ensureTopologyOnce(nc: NatsConnection, opts: TopologyOptions): Promise<Topology> {
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
  const replicas = opts.SY_REPLICAS ?? 1;
  // Kvm.create leaves an existing bucket as it is: bring its replicas to SY_REPLICAS after.
  const bucket = async (name: string, bucketOpts: Parameters<Kvm["create"]>[1]): Promise<KV> => {
    const kv = await kvm.create(name, { ...bucketOpts, replicas });
    await ensureReplicas(jsm, `KV_${name}`, replicas);
    return kv;
  };
  const [tasks, agents, idempotency, runnerKinds, operators, apiKeys, runnerCaps] = await Promise.all([
    // A record expires TASK_RETENTION_HOURS after its last change (default: with its events).
    bucket(BUCKETS.tasks, { history: 1, storage: StorageType.File, ttl: taskRetentionHours(opts) * 3_600_000 }),
    bucket(BUCKETS.agents, { history: 5, storage: StorageType.File }),
    bucket(BUCKETS.idempotency, { history: 1, storage: StorageType.File, ttl: 7 * 24 * 3_600_000 }),
    bucket(BUCKETS.runnerKinds, { history: 1, storage: StorageType.File }),
    // An operator that stops re-registering (it died, its WebSocket closed) expires.
    bucket(BUCKETS.operators, { history: 1, storage: StorageType.Memory, ttl: OPERATOR_TTL_MS }),
    bucket(BUCKETS.apiKeys, { history: 1, storage: StorageType.File }),
    bucket(BUCKETS.runnerCaps, { history: 1, storage: StorageType.File }),
  ]);
  await setMaxAge(jsm, `KV_${BUCKETS.tasks}`, Math.round(taskRetentionHours(opts) * HOUR_NS));
  return { js, jsm, tasks, agents, idempotency, runnerKinds, operators, apiKeys, runnerCaps };
}

/** A bucket made before (or with another retention) takes the configured one: kvm.create does not change it. */
async function setMaxAge(jsm: JetStreamManager, stream: string, maxAgeNs: number): Promise<void> {
  const info = await jsm.streams.info(stream);
  if (info.config.max_age === maxAgeNs) return;
  await jsm.streams.update(stream, { ...info.config, max_age: maxAgeNs });
}

/** Scales an existing stream (a KV bucket's) to `replicas` when it has another count. */
async function ensureReplicas(jsm: JetStreamManager, stream: string, replicas: number): Promise<void> {
  const info = await jsm.streams.info(stream);
  if ((info.config.num_replicas || 1) === replicas) return;
  await jsm.streams.update(stream, { ...info.config, num_replicas: replicas });
}

function isNotFound(err: unknown): boolean {
  return isStreamNotFound(err);
}
