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
} as const;

/** How long a finished task's replay cache stays in Redis. */
export const RUN_CACHE_TTL_AFTER_FINISH_S = 3600;
