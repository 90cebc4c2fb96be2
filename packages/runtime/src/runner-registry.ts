// Reading the live runner nodes from their heartbeat records in Redis. A node whose record
// expired is gone: its id is pruned from the node set here.
import { RunnerNode, type RunnerNode as RunnerNodeType, redisKeys } from "@switchyard/contracts";
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
