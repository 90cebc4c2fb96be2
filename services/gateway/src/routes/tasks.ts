// Tasks: submit, get, list, cancel. The gateway never writes task state: it publishes
// commands to the kernel (SY_CMD) and reads records from KV.
import {
  agentKey,
  CancelResponse,
  type CancelTask,
  checkRunnerConfig,
  type Executor,
  executorOverrideRefusal,
  idempotencyRecordKey,
  isTerminal,
  ListTasksQuery,
  ListTasksResponse,
  raisedLimits,
  redisKeys,
  type SubmitTask,
  SubmitTaskBody,
  SubmitTaskResponse,
  subjects,
  submitMsgId,
  TaskId,
  TaskRecord,
  TaskView,
} from "@switchyard/contracts";
import { contextFromHttp, contextWithSpan, encodeJson, newTaskId, readRunnerKind, startSpan, traceHeaders } from "@switchyard/runtime";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { GatewayContext } from "../context.ts";
import { encodeForBus, HttpProblem } from "../http-errors.ts";
import { ParsedAgents } from "../parsed-agents.ts";
import { problems } from "../route-schemas.ts";
import { loadTask, nodesOnce, viewTask } from "../task-reads.ts";

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,256}$/;
const CancelBody = z
  .object({ reason: z.string().max(1000).optional() })
  .strict()
  .nullish();
/** A task's path parameter; validation errors call it `task id`. */
export const TaskParams = z.object({ id: TaskId });
export const taskParamNames = { params: { id: "task id" } };

export function taskRoutes(fastify: FastifyInstance, ctx: GatewayContext, tenantOf: (req: FastifyRequest) => string): void {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const agentDefs = new ParsedAgents();
  const submitSchema = { summary: "Submit a task", body: SubmitTaskBody, response: { 202: SubmitTaskResponse, ...problems(400, 404, 409, 413, 415, 503) } };
  app.post("/v1/tasks", { schema: submitSchema, config: { names: { body: "task" } } }, async (req, reply) => {
    const tenant = tenantOf(req);
    const body = req.body;
    const rawKey = req.headers["idempotency-key"];
    const key = typeof rawKey === "string" ? rawKey : null;
    if (rawKey !== undefined && (key === null || !IDEMPOTENCY_KEY.test(key))) {
      throw new HttpProblem("bad_request", "invalid Idempotency-Key header: 1 to 256 printable ASCII characters", [
        { path: "Idempotency-Key", message: "1 to 256 printable ASCII characters" },
      ]);
    }
    if (key !== null) {
      const existing = await findIdempotent(ctx, tenant, key, 0);
      if (existing) return reply.code(202).send(submitted(existing, true));
    }
    // The tenant's own agent, else a shared one (the kernel's run plan resolves the same way).
    const own = await ctx.agents.get(agentKey(tenant, body.agent));
    const agent = own?.operation === "PUT" ? own : await ctx.agents.get(agentKey(undefined, body.agent));
    if (agent?.operation !== "PUT") throw new HttpProblem("agent_not_found", `agent '${body.agent}' not found`, [{ path: "agent", message: "no such agent" }]);
    const { def, executor } = agentDefs.of(agent);
    // A task may choose another executor only of a kind its agent lists (the spawner checks again).
    const refusal = def ? executorOverrideRefusal(def, body.executor) : null;
    if (refusal) throw new HttpProblem("executor_not_allowed", refusal, [{ path: "executor", message: refusal }]);
    if (body.limits) {
      // A task may lower its agent's limits, never raise them (the kernel also takes the smaller).
      const raised = def ? raisedLimits(def.limits, body.limits) : [];
      if (raised.length > 0) {
        const details = raised.map((r) => ({ path: `limits.${r.field}`, message: `may lower the agent's ${r.field} (${r.agent}), not raise it (${r.task})` }));
        throw new HttpProblem("bad_request", `invalid task: ${details.map((d) => `${d.path}: ${d.message}`).join("; ")}`, details);
      }
    }
    await checkExecutorConfig(ctx, body.executor ?? executor);

    const id = newTaskId();
    const confirmation = ctx.submitWaiter.expect(id, ctx.env.SUBMIT_CONFIRM_TIMEOUT_MS);
    // Before the submit is published, so the ring holds the task's every event (ARCHITECTURE.md §6).
    const releaseFeed = ctx.eventHub.expect(tenant, body.agent, id);
    const cmd: SubmitTask = {
      v: 1,
      task_id: id,
      tenant,
      agent: body.agent,
      input: body.input,
      ...(body.executor ? { executor: body.executor } : {}),
      metadata: body.metadata ?? {},
      ...(body.limits ? { limits: body.limits } : {}),
      idempotency_key: key,
      submitted_at: new Date().toISOString(),
      notify: ctx.submitWaiter.subjectFor(id),
      // The definition checked above: the kernel runs a plan compiled from exactly this revision.
      agent_source: { key: agent.key, revision: agent.revision },
    };
    let payload: Uint8Array;
    try {
      payload = encodeForBus(ctx.nc.info?.max_payload, cmd, "the task");
    } catch (err) {
      confirmation.cancel();
      releaseFeed();
      throw err;
    }
    let ack: Awaited<ReturnType<typeof ctx.js.publish>>;
    // The client's traceparent (or a new trace) rides to the kernel in the submit's headers.
    const span = startSpan("gateway POST /v1/tasks", { "sy.task_id": id, "sy.agent": body.agent }, contextFromHttp(req.headers));
    try {
      ack = await ctx.js.publish(subjects.submit, payload, { msgID: submitMsgId(tenant, id, key), ...traceHeaders(contextWithSpan(span)) });
    } catch (err) {
      confirmation.cancel();
      releaseFeed();
      throw err;
    } finally {
      span?.end();
    }
    if (ack.duplicate && key !== null) {
      confirmation.cancel();
      releaseFeed();
      const existing = await findIdempotent(ctx, tenant, key, ctx.env.SUBMIT_CONFIRM_TIMEOUT_MS);
      if (!existing) throw new HttpProblem("conflict", "a submit with this Idempotency-Key is still being processed; retry shortly");
      return reply.code(202).send(submitted(existing, true));
    }
    // 202 once the kernel confirms the task exists; without a kernel the durable submit still stands.
    const accepted = await confirmation.promise;
    if (accepted && accepted.task_id !== id) releaseFeed(); // the kernel answered with an earlier task
    if (accepted) return reply.code(202).send(submitted({ id: accepted.task_id, status: accepted.status, agent: accepted.agent }, accepted.task_id !== id));
    return reply.code(202).send(submitted({ id, status: "queued", agent: body.agent }, false));
  });

  const getSchema = { summary: "A task", params: TaskParams, response: { 200: TaskView, ...problems(400, 404, 414) } };
  app.get("/v1/tasks/:id", { schema: getSchema, config: { names: taskParamNames } }, async (req) => {
    const task = await loadTask(ctx, req.params.id, tenantOf(req));
    return viewTask(ctx, task);
  });

  const listSchema = { summary: "List tasks, newest first", querystring: ListTasksQuery, response: { 200: ListTasksResponse, ...problems(400) } };
  app.get("/v1/tasks", { schema: listSchema }, async (req): Promise<ListTasksResponse> => {
    const tenant = tenantOf(req);
    const q = req.query;
    // The tenant's index (kept by the kernel, newest first): a page costs its own reads, not a
    // scan of every tenant's tasks. With a filter, batches are read until the page is full.
    const items = [];
    const nodes = nodesOnce(ctx);
    let next: string | null = null;
    let from = q.cursor ? `(${q.cursor}` : "+";
    const batch = q.status || q.agent ? Math.max(q.limit * 2, 100) : q.limit + 1;
    scan: for (;;) {
      let ids: string[];
      try {
        ids = await ctx.redis.zrevrangebylex(redisKeys.tenantTasks(tenant), from, "-", "LIMIT", 0, batch);
      } catch {
        throw new HttpProblem("unavailable", "task index (Redis) is unreachable");
      }
      const entries = await Promise.all(ids.map((id) => ctx.tasks.get(id)));
      for (const entry of entries) {
        if (entry?.operation !== "PUT") continue; // expired (TASK_RETENTION_HOURS)
        const parsed = TaskRecord.safeParse(entry.json());
        if (!parsed.success) continue;
        const t = parsed.data;
        if (t.tenant !== tenant || (q.status && t.status !== q.status) || (q.agent && t.agent !== q.agent)) continue;
        if (items.length === q.limit) {
          next = items[items.length - 1]?.id ?? null;
          break scan;
        }
        items.push(await viewTask(ctx, t, nodes));
      }
      if (ids.length < batch) break;
      from = `(${ids[ids.length - 1]}`;
    }
    return { items, next_cursor: next };
  });

  const cancelSchema = { summary: "Cancel a task", params: TaskParams, body: CancelBody, response: { 202: CancelResponse, ...problems(400, 404, 409) } };
  app.post("/v1/tasks/:id/cancel", { schema: cancelSchema, config: { names: { ...taskParamNames, body: "cancel body" } } }, async (req, reply) => {
    const task = await loadTask(ctx, req.params.id, tenantOf(req));
    if (isTerminal(task.status)) {
      throw new HttpProblem("task_terminal", `task is already ${task.status}`, { status: task.status });
    }
    const reason = req.body?.reason;
    const cmd: CancelTask = { v: 1, task_id: task.id, ...(reason ? { reason } : {}) };
    await ctx.js.publish(subjects.cancel, encodeJson(cmd), { msgID: `cancel:${task.id}` });
    return reply.code(202).send({ id: task.id, status: task.status, cancel_requested: true });
  });
}

/**
 * A remote executor's config must match the schema its kind registered (400 naming the
 * field). A kind nobody registered is accepted: the task waits until a node serves it.
 */
async function checkExecutorConfig(ctx: GatewayContext, executor: Executor | undefined): Promise<void> {
  if (executor?.type !== "remote") return;
  const record = await readRunnerKind(ctx.runnerKinds, executor.runner.kind);
  if (!record) return;
  const issues = checkRunnerConfig(record, executor.runner.config);
  if (issues.length === 0) return;
  const summary = issues
    .slice(0, 3)
    .map((i) => `${i.path}: ${i.message}`)
    .join("; ");
  throw new HttpProblem("bad_request", `invalid config for runner kind '${record.kind}': ${summary}`, issues);
}

function submitted(t: { id: string; status: SubmitTaskResponse["status"]; agent: string }, duplicate: boolean): SubmitTaskResponse {
  return { id: t.id, status: t.status, agent: t.agent, events_url: `/v1/tasks/${t.id}/events`, duplicate };
}

/** The task an Idempotency-Key created earlier, waiting up to `waitMs` for the kernel to record it. */
async function findIdempotent(
  ctx: GatewayContext,
  tenant: string,
  key: string,
  waitMs: number,
): Promise<{ id: string; status: SubmitTaskResponse["status"]; agent: string } | null> {
  const recordKey = idempotencyRecordKey(tenant, key);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const entry = await ctx.idempotency.get(recordKey);
    const id = entry?.operation === "PUT" ? entry.string() : "";
    if (id) {
      const t = await ctx.tasks.get(id);
      if (t && t.operation === "PUT") {
        const task = TaskRecord.parse(t.json());
        return { id: task.id, status: task.status, agent: task.agent };
      }
    }
    if (Date.now() >= deadline) return null;
    await new Promise((r) => setTimeout(r, 25));
  }
}
