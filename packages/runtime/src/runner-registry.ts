// Reading the live runner nodes from their heartbeat records in Redis (a node whose record
// expired is gone: its id is pruned from the node set here), the registered runner kinds
// (KV sy_runner_kinds) and the work queue depth of each kind (SY_WORK).
import type { JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import {
  RunnerKindRecord,
  type RunnerKindRecord as RunnerKindRecordType,
  RunnerNode,
  type RunnerNode as RunnerNodeType,
  redisKeys,
  STREAMS,
  subjects,
} from "@switchyard/contracts";
import type { Redis } from "ioredis";

/** Live runner nodes, sorted by id. Throws when Redis is unreachable. */
export async function listRunnerNodes(redis: Redis): Promise<RunnerNodeType[]> {
  const ids = (await redis.smembers(redisKeys.nodes)).sort();
  if (ids.length === 0) return [];
  const records = await redis.mget(...ids.map((id) => redisKeys.node(id)));
  const nodes: RunnerNodeType[] = [];
  const gone: string[] = [];
  for (const [i, id] of ids.entries()) {
    const raw = records[i];
    if (!raw) {
      gone.push(id);
      continue;
    }
    try {
      const parsed = RunnerNode.safeParse(JSON.parse(raw));
      if (parsed.success) nodes.push(parsed.data);
    } catch {
      /* a corrupt record is skipped */
    }
  }
  if (gone.length) void redis.srem(redisKeys.nodes, ...gone).catch(() => undefined);
  return nodes;
}

/** How many live, non-draining nodes serve each kind. */
export function nodesPerKind(nodes: readonly RunnerNodeType[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const n of nodes) if (!n.draining) for (const k of n.kinds) counts.set(k, (counts.get(k) ?? 0) + 1);
  return counts;
}

/** Live nodes that serve `kind` and, when given, offer the model `provider`. */
export function nodesServing(nodes: readonly RunnerNodeType[], kind: string, provider: string | null): number {
  return nodes.filter((n) => !n.draining && n.kinds.includes(kind) && (provider === null || (n.providers ?? []).includes(provider))).length;
}

/** A registered runner kind, or null when no node ever registered it (any config is accepted). */
export async function readRunnerKind(kv: KV, kind: string): Promise<RunnerKindRecordType | null> {
  const entry = await kv.get(kind);
  if (entry?.operation !== "PUT") return null;
  const parsed = RunnerKindRecord.safeParse(entry.json());
  return parsed.success ? parsed.data : null;
}

/** Every registered runner kind, sorted by kind. */
export async function listRunnerKinds(kv: KV): Promise<RunnerKindRecordType[]> {
  const keys: string[] = [];
  for await (const k of await kv.keys()) keys.push(k);
  const records = await Promise.all(keys.sort().map((k) => readRunnerKind(kv, k)));
  return records.filter((r): r is RunnerKindRecordType => r !== null);
}

/** Work items waiting in SY_WORK per kind (dispatched, not yet claimed and acked). */
export async function workQueueDepths(jsm: JetStreamManager): Promise<Map<string, number>> {
  const info = await jsm.streams.info(STREAMS.work, { subjects_filter: subjects.workAll });
  const depths = new Map<string, number>();
  for (const [subject, count] of Object.entries(info.state.subjects ?? {})) {
    const kind = subject.slice("sy.work.".length);
    if (kind) depths.set(kind, count);
  }
  return depths;
}
