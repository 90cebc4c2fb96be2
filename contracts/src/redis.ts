// Redis keys: the runner's replay cache and liveness data (ARCHITECTURE.md §4). Nothing here is the
// source of truth; all of it can be rebuilt.
export const redisKeys = {
  /**
   * Hash: status, run_id, node_id, started_at, last_event_at, round_count, last_tool_name,
   * last_tool_phase, last_usage, runner_state (JSON reported by the runner kind).
   */
  run: (taskId: string) => `sy:run:${taskId}`,
  /** List: the last 32 critical events (JSON), oldest first, trimmed on every push. */
  runCritical: (taskId: string) => `sy:run:${taskId}:critical`,
  /** String: the owning run_id, with a TTL of a few seconds, renewed by the runner. */
  lease: (taskId: string) => `sy:lease:${taskId}`,
  /** String (JSON RunnerNode) with a TTL: one runner node's heartbeat. */
  node: (nodeId: string) => `sy:node:${nodeId}`,
  /** Set of node ids that have heartbeated; pruned by readers when the node key is gone. */
  nodes: "sy:nodes",
  /**
   * Sorted set (every score 0, so ordered by id = by creation time): a tenant's task ids, kept by
   * the kernel; `GET /v1/tasks` reads one page of it. Ids older than TASK_RETENTION_HOURS are trimmed.
   */
  tenantTasks: (tenant: string) => `sy:tenant:${tenant}:tasks`,
  /** Set: a tenant's unfinished task ids (queued, running, parked), kept by the kernel: the running-tasks quota. */
  tenantActive: (tenant: string) => `sy:tenant:${tenant}:active`,
  /** Sorted set (score: last refresh, ms): a tenant's open SSE streams and operator WebSockets, per gateway connection. */
  tenantStreams: (tenant: string) => `sy:tenant:${tenant}:streams`,
  /** String counter with a 2 s TTL: a tenant's submits in one second (`<epoch second>`). */
  tenantSubmits: (tenant: string, second: number) => `sy:tenant:${tenant}:submits:${second}`,
  /** String: set once the kernel has indexed every stored task (absent after Redis lost its data: rebuilt). */
  taskIndexBuilt: "sy:task-index:built",
} as const;

/** The smallest UUIDv7 prefix of ids created at or after `ms`: `xxxxxxxx-xxxx` of the timestamp. */
export function taskIdPrefixAt(ms: number): string {
  const h = Math.max(0, Math.floor(ms)).toString(16).padStart(12, "0");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}`;
}

/** How long a finished task's replay cache stays in Redis. */
export const RUN_CACHE_TTL_AFTER_FINISH_S = 3600;
