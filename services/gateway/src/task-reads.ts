// Reading tasks for the API: the record from KV sy_tasks (read-only here) and, while a task
// runs, the live fields from the runner's replay cache in Redis.
import { isTerminal, modelProvider, type QueueInfo, redisKeys, TaskId, type TaskLive, TaskRecord, type TaskView, toTaskView } from "@switchyard/contracts";
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

/** The replay-cache hash of the task's current run: undefined without a run, for another run's hash, or with Redis down. */
async function readRunHash(ctx: GatewayContext, task: TaskRecord): Promise<Record<string, string> | undefined> {
  if (!task.run_id) return undefined;
  try {
    const h = await ctx.redis.hgetall(redisKeys.run(task.id));
    return h.run_id === task.run_id ? h : undefined;
  } catch {
    return undefined; // Redis is a cache: the record alone still answers.
  }
}

function liveFields(task: TaskRecord, h: Record<string, string> | undefined): TaskLive | undefined {
  // Queued and parked tasks have no run on any node: the cache of the last run would mislead.
  if (!h || isTerminal(task.status) || task.status === "queued" || task.status === "input_required") return undefined;
  const live: TaskLive = { run_id: h.run_id };
  if (h.node_id) live.node_id = h.node_id;
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

/** The runner kind's report on the task's current (or last) run, while the replay cache keeps it. */
function runnerState(h: Record<string, string> | undefined): Record<string, unknown> | undefined {
  if (!h?.runner_state) return undefined;
  try {
    const state: unknown = JSON.parse(h.runner_state);
    return typeof state === "object" && state !== null && !Array.isArray(state) ? (state as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Live runner nodes per kind, read at most once per request (a list of queued tasks shares it). */
export function nodesOnce(ctx: GatewayContext): () => Promise<Map<string, number> | undefined> {
  let nodes: Promise<Map<string, number> | undefined> | undefined;
  return () => {
    nodes ??= listRunnerNodes(ctx.redis).then(withProviders, () => undefined); // Redis down: say nothing
    return nodes;
  };
}

/** Nodes per kind, plus nodes per kind and model provider (key `<kind>/provider:<name>`). */
function withProviders(list: Awaited<ReturnType<typeof listRunnerNodes>>): Map<string, number> {
  const counts = nodesPerKind(list);
  for (const n of list) {
    if (n.draining) continue;
    for (const k of n.kinds) for (const p of n.providers ?? []) counts.set(`${k}/provider:${p}`, (counts.get(`${k}/provider:${p}`) ?? 0) + 1);
  }
  return counts;
}

/** For a queued task: how many live nodes serve its kind, and a note when none does. */
async function queueInfo(task: TaskRecord, nodes: () => Promise<Map<string, number> | undefined>): Promise<QueueInfo | undefined> {
  if (task.status !== "queued") return undefined;
  const perKind = await nodes();
  if (!perKind) return undefined;
  const n = perKind.get(task.runner_kind) ?? 0;
  if (n === 0) return { runner_nodes: 0, message: `no runner node serves kind '${task.runner_kind}'` };
  // A real model runs only where its provider is configured.
  const provider = task.plan?.agent_kind === "llm" ? modelProvider(task.plan.model) : null;
  if (!provider) return { runner_nodes: n };
  const m = perKind.get(`${task.runner_kind}/provider:${provider}`) ?? 0;
  return m > 0 ? { runner_nodes: m } : { runner_nodes: 0, message: `no runner node has provider '${provider}' (kind '${task.runner_kind}')` };
}

export async function viewTask(ctx: GatewayContext, task: TaskRecord, nodes = nodesOnce(ctx)): Promise<TaskView> {
  const [h, queue] = await Promise.all([readRunHash(ctx, task), queueInfo(task, nodes)]);
  return toTaskView(task, liveFields(task, h), queue, runnerState(h));
}
