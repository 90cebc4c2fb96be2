// Reading tasks for the API: the record from KV sy_tasks (read-only here) and, while a task
// runs, the live fields from the runner's replay cache in Redis.
import { isTerminal, type QueueInfo, redisKeys, TaskId, type TaskLive, TaskRecord, type TaskView, toTaskView } from "@switchyard/contracts";
import { listRunnerNodes, nodesPerKind } from "@switchyard/runtime";
import type { GatewayContext } from "./context.ts";
import { HttpProblem, parseOr400 } from "./http-errors.ts";

export async function readTask(ctx: GatewayContext, id: string): Promise<TaskRecord | null> {
  const entry = await ctx.tasks.get(id);
  if (entry?.operation !== "PUT") return null;
  return TaskRecord.parse(entry.json());
}

/** The caller's task, or 400 (malformed id) / 404 (unknown, or another tenant's). */
export async function loadTask(ctx: GatewayContext, rawId: string, tenant: string): Promise<TaskRecord> {
  const id = parseOr400(TaskId, rawId, "task id");
  const task = await readTask(ctx, id);
  if (!task || task.tenant !== tenant) throw new HttpProblem("task_not_found", `task '${id}' not found`);
  return task;
}

export async function readLive(ctx: GatewayContext, task: TaskRecord): Promise<TaskLive | undefined> {
  // Queued and parked tasks have no run on any node: the cache of the last run would mislead.
  if (isTerminal(task.status) || task.status === "queued" || task.status === "input_required") return undefined;
  let h: Record<string, string>;
  try {
    h = await ctx.redis.hgetall(redisKeys.run(task.id));
  } catch {
    return undefined; // Redis is a cache: the record alone still answers.
  }
  if (!h.run_id || h.run_id !== task.run_id) return undefined;
  const live: TaskLive = {};
  if (h.node_id) live.node_id = h.node_id;
  live.run_id = h.run_id;
  if (h.status) live.status = h.status;
  if (h.started_at) live.started_at = h.started_at;
  if (h.last_event_at) live.last_event_at = h.last_event_at;
  if (h.round_count) live.round_count = Number(h.round_count);
  if (h.last_tool_name) live.last_tool_name = h.last_tool_name;
  if (h.last_tool_phase) live.last_tool_phase = h.last_tool_phase;
  if (h.last_usage) {
    try {
      live.last_usage = JSON.parse(h.last_usage);
    } catch {
      /* a corrupt cache field is left out */
    }
  }
  return live;
}

/** For a queued task: how many live nodes serve its kind, and a note when none does. */
export async function readQueueInfo(ctx: GatewayContext, task: TaskRecord): Promise<QueueInfo | undefined> {
  if (task.status !== "queued") return undefined;
  try {
    const n = nodesPerKind(await listRunnerNodes(ctx.redis)).get(task.runner_kind) ?? 0;
    return n > 0 ? { runner_nodes: n } : { runner_nodes: 0, message: `no runner node serves kind '${task.runner_kind}'` };
  } catch {
    return undefined; // Redis is down: say nothing rather than something wrong
  }
}

/** The runner kind's report on the task's current (or last) run, while the replay cache keeps it. */
export async function readRunnerState(ctx: GatewayContext, task: TaskRecord): Promise<Record<string, unknown> | undefined> {
  if (!task.run_id) return undefined;
  try {
    const [runId, raw] = await ctx.redis.hmget(redisKeys.run(task.id), "run_id", "runner_state");
    if (!raw || runId !== task.run_id) return undefined;
    const state: unknown = JSON.parse(raw);
    return typeof state === "object" && state !== null && !Array.isArray(state) ? (state as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export async function viewTask(ctx: GatewayContext, task: TaskRecord): Promise<TaskView> {
  const [live, queue, runnerState] = await Promise.all([readLive(ctx, task), readQueueInfo(ctx, task), readRunnerState(ctx, task)]);
  return toTaskView(task, live, queue, runnerState);
}
