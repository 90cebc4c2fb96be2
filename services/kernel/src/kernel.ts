// The kernel's shell: task creation, claims, fenced run reports, retries, cancel, and
// (issue 6) the check after every model round and the answers to parked tasks. Every handler
// loads the record, asks a pure decision (decide.ts, decide-park.ts) for the next record, its
// effects and the reply, writes the record with compare-and-set (TaskStore), then executes the
// effects (ARCHITECTURE.md §10). Effects (status events, dispatch, abort) are idempotent
// and derived from the record alone, so a command redelivered after a crash repeats them safely.
import type { NatsConnection } from "@nats-io/transport-node";
import {
  type AnswerCall,
  type CancelTask,
  type ClaimReply,
  type ClaimRequest,
  type DispatchDue,
  idempotencyRecordKey,
  PlanWithSource,
  type RoundReport,
  type RoundVerdict,
  type RunCheckpointed,
  type RunFailed,
  type RunFinished,
  type RunPlan,
  type RunReleased,
  SpawnerReply,
  type SubmitTask,
  SwitchyardError,
  subjects,
  type TaskRecord,
} from "@switchyard/contracts";
import {
  buildEvent,
  type Counter,
  encodeJson,
  type Histogram,
  type JetStreamClient,
  type KV,
  type Logger,
  newRunId,
  publishEvent,
  requestJson,
  traceHeaders,
} from "@switchyard/runtime";
import {
  type Compiled,
  type DecideCtx,
  type Decision,
  decideCancel,
  decideCheckpoint,
  decideClaim,
  decideDeadlineExceeded,
  decideDispatchDue,
  decideDuplicateSubmit,
  decideFailed,
  decideFinished,
  decideQueueTimedOut,
  decideReleased,
  decideRunLost,
  decideSubmit,
} from "./decide.ts";
import { decideAnswer, decideApprovalsTimedOut, decideRound } from "./decide-park.ts";
import type { Effect } from "./effects.ts";
import type { KernelMetrics } from "./kernel-metrics.ts";
import { PlanCache, trustedSource } from "./plan-cache.ts";
import type { TaskStore } from "./task-store.ts";
import type { TenantIndex } from "./tenant-index.ts";

/**
 * What to do with the command message: done, or try again after a delay (at most
 * `maxDeliveries` times, after which it is dropped as undeliverable).
 */
export type Outcome = { ack: true } | { ack: false; retryInMs: number; reason: string; maxDeliveries?: number };
const ACK: Outcome = { ack: true };

export interface KernelDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  store: TaskStore;
  idempotency: KV;
  log: Logger;
  spawnerTimeoutMs: number;
  commandRetryMs: number;
  /** Per-tenant task index (GET /v1/tasks) and unfinished-task sets (quota) in Redis; absent in unit tests. */
  tenantIndex?: TenantIndex;
  /** Prometheus metrics (kernel-metrics.ts); absent in unit tests. */
  metrics?: KernelMetrics;
}

type Decide<R> = (t: TaskRecord | null, ctx: DecideCtx) => Decision<R>;

export class Kernel {
  readonly #d: KernelDeps;
  readonly #plans = new PlanCache();
  /** Reports rejected because their run is not the task's current one. */
  fencedReports = 0;

  constructor(deps: KernelDeps) {
    this.#d = deps;
  }

  get metrics(): KernelMetrics | undefined {
    return this.#d.metrics;
  }

  // ---- submit ----

  async submit(cmd: SubmitTask): Promise<Outcome> {
    const { store } = this.#d;
    if (cmd.idempotency_key !== null) {
      const owner = await this.#claimIdempotencyKey(cmd);
      if (owner !== cmd.task_id) {
        const earlier = cmd.notify ? await store.get(owner) : null;
        await this.#execute(decideDuplicateSubmit(earlier?.task ?? null, cmd, owner).effects);
        return ACK;
      }
    }
    // No read first: `create` fails when the record exists (a redelivered submit), and only
    // then is the record read, and its effects repeated.
    let compiled: Compiled;
    try {
      compiled = { plan: await this.#compilePlan(cmd) };
    } catch (err) {
      if (err instanceof SwitchyardError && (err.code === "agent_not_found" || err.code === "invalid_agent" || err.code === "executor_not_allowed"))
        compiled = { error: err.toWire() };
      else return { ack: false, retryInMs: this.#d.commandRetryMs, reason: `spawner: ${(err as Error).message}` };
    }
    const created = decideSubmit(null, cmd, compiled, this.#ctx());
    if (!created.next || !(await store.create(created.next))) {
      const raced = await store.get(cmd.task_id);
      if (raced) await this.#execute(decideSubmit(raced.task, cmd, null, this.#ctx()).effects);
      return ACK;
    }
    await this.#execute(created.effects);
    return ACK;
  }

  /** Records key → task id; returns the task id that owns the key (ours, or an earlier one). */
  async #claimIdempotencyKey(cmd: SubmitTask): Promise<string> {
    const key = idempotencyRecordKey(cmd.tenant, cmd.idempotency_key as string);
    try {
      await this.#d.idempotency.create(key, cmd.task_id);
      return cmd.task_id;
    } catch {
      const entry = await this.#d.idempotency.get(key);
      return entry?.string() || cmd.task_id;
    }
  }

  /** The plan of the definition the gateway checked, from the cache; else compiled by the spawner (and cached). */
  async #compilePlan(cmd: SubmitTask): Promise<RunPlan> {
    const cached = this.#plans.get(trustedSource(cmd), cmd.executor);
    this.#d.metrics?.planCache.inc({ result: cached ? "hit" : "miss" });
    if (cached) return cached;
    const reply = await requestJson(
      this.#d.nc,
      subjects.plan,
      { v: 1, agent: cmd.agent, tenant: cmd.tenant, with_source: true, ...(cmd.executor ? { executor: cmd.executor } : {}) },
      SpawnerReply,
      this.#d.spawnerTimeoutMs,
    );
    if (!reply.ok) throw new SwitchyardError(reply.error.code as "agent_not_found", reply.error.message, { details: reply.error.details });
    const { plan, source } = PlanWithSource.parse(reply.value);
    this.#plans.set(source, cmd.executor, plan);
    return plan;
  }

  // ---- claims ----

  claim(req: ClaimRequest): Promise<ClaimReply> {
    return this.#decide(req.task_id, (t, ctx) => decideClaim(t, req, ctx));
  }

  // ---- run reports (fenced by run_id) ----

  async checkpoint(cmd: RunCheckpointed): Promise<Outcome> {
    await this.#decide(cmd.task_id, (t, ctx) => decideCheckpoint(t, cmd, ctx));
    return ACK;
  }

  async finished(cmd: RunFinished): Promise<Outcome> {
    await this.#decide(cmd.task_id, (t, ctx) => decideFinished(t, cmd, ctx));
    return ACK;
  }

  async failed(cmd: RunFailed): Promise<Outcome> {
    await this.#decide(cmd.task_id, (t, ctx) => decideFailed(t, cmd, ctx));
    return ACK;
  }

  async released(cmd: RunReleased): Promise<Outcome> {
    await this.#decide(cmd.task_id, (t, ctx) => decideReleased(t, cmd, ctx));
    return ACK;
  }

  // ---- the check after every model round (sy.kernel.round, request/reply) ----

  round(req: RoundReport): Promise<RoundVerdict> {
    // The common verdict, "proceed" on a running task, needs no read of the store; any other
    // verdict reached on this kernel's copy is checked against the store first.
    return this.#decide(
      req.task_id,
      (t, ctx) => decideRound(t, req, ctx),
      (d) => d.reply.verdict === "proceed",
    );
  }

  // ---- answers: approvals and external tool results (sy.cmd.answer) ----

  async answer(cmd: AnswerCall): Promise<Outcome> {
    await this.#decide(cmd.task_id, (t, ctx) => decideAnswer(t, cmd, ctx));
    return ACK;
  }

  // ---- verdicts of the reaper (sy.cmd.reap, acked after their effects: ARCHITECTURE.md §5; each returns whether it acted) ----

  approvalsTimedOut(taskId: string): Promise<boolean> {
    return this.#decide(taskId, (t, ctx) => decideApprovalsTimedOut(t, taskId, ctx));
  }

  runLost(taskId: string, runId: string): Promise<boolean> {
    return this.#decide(taskId, (t, ctx) => decideRunLost(t, taskId, runId, ctx));
  }

  deadlineExceeded(taskId: string): Promise<boolean> {
    return this.#decide(taskId, (t, ctx) => decideDeadlineExceeded(t, taskId, ctx));
  }

  queueTimedOut(taskId: string, attempt: number, waitedMs: number): Promise<boolean> {
    return this.#decide(taskId, (t, ctx) => decideQueueTimedOut(t, taskId, attempt, waitedMs, ctx));
  }

  // ---- cancel ----

  async cancel(cmd: CancelTask): Promise<Outcome> {
    const reply = await this.#decide(cmd.task_id, (t, ctx) => decideCancel(t, cmd, ctx));
    // The submit may still be on its way (commands are handled concurrently); a task that never
    // appears is given up on after a bounded number of tries.
    if (reply === "task_not_created") return { ack: false, retryInMs: this.#d.commandRetryMs, reason: "task not created yet", maxDeliveries: 20 };
    return ACK;
  }

  // ---- delayed dispatch ----

  async dispatchDue(cmd: DispatchDue): Promise<Outcome> {
    const wait = Date.parse(cmd.due_at) - Date.now();
    if (wait > 0) return { ack: false, retryInMs: wait, reason: "not due" };
    const stored = await this.#d.store.get(cmd.task_id);
    await this.#execute(decideDispatchDue(stored?.task ?? null, cmd).effects);
    return ACK;
  }

  // ---- decide → write → effects ----

  #ctx(): DecideCtx {
    return { now: Date.now(), newRunId, random: Math.random };
  }

  /**
   * Loads the task, decides, writes the next record with compare-and-set (a conflict decides
   * again on what is stored), executes the effects and returns the reply. `proceedOnCopy`: the
   * decision may stand on this kernel's cached copy without a read (TaskStore `noChangeOnCopy`).
   */
  async #decide<R>(taskId: string, decide: Decide<R>, proceedOnCopy?: (d: Decision<R>) => boolean): Promise<R> {
    const ctx = this.#ctx();
    let d: Decision<R> | undefined;
    const res = await this.#d.store.mutate(
      taskId,
      (t) => {
        d = decide(t, ctx);
        return d.next;
      },
      proceedOnCopy ? { noChangeOnCopy: () => proceedOnCopy(d as Decision<R>) } : {},
    );
    if (!res) d = decide(null, ctx);
    // The store wrote another record than decided (too large for NATS: task_too_large; a finished
    // task without its checkpoint): decided again with that outcome, so effects and reply match it.
    else if (res.changed && res.after !== d?.next) d = decide(res.before, { ...ctx, fit: () => res.after });
    const decision = d as Decision<R>;
    await this.#execute(decision.effects);
    return decision.reply;
  }

  /**
   * Executes effects in order. JetStream publishes (events, work, dispatch-due) start at once and
   * are awaited together, as one round trip, before any later effect that is not a publish (a
   * notify, a metric, a log) and at the end: the task's lock is held until all are acked,
   * so the next decision's events follow them. An abort is core NATS and waits for nothing; nor
   * does the tenant index's note (Redis, rebuilt from sy_tasks when lost).
   */
  async #execute(effects: Effect[]): Promise<void> {
    const { js, nc, log, metrics } = this.#d;
    let inFlight: Promise<unknown>[] = [];
    for (const e of effects) {
      switch (e.type) {
        case "event":
          inFlight.push(publishEvent(js, e.target, buildEvent(e.target, e.run_id, e.attempt, e.event, e.data), e.msgId));
          continue;
        case "work":
          inFlight.push(js.publish(subjects.work(e.item.kind), encodeJson(e.item), { msgID: e.msgId, ...traceHeaders() }));
          continue;
        case "dispatch-due":
          inFlight.push(js.publish(subjects.dispatchDue, encodeJson(e.cmd), { msgID: e.msgId }));
          continue;
        case "abort":
          nc.publish(subjects.taskControl(e.control.task_id), encodeJson(e.control));
          continue;
        case "note":
          this.#d.tenantIndex?.note(e.task);
          continue;
      }
      if (inFlight.length > 0) {
        await Promise.all(inFlight);
        inFlight = [];
      }
      switch (e.type) {
        case "notify":
          nc.publish(e.subject, encodeJson(e.msg));
          break;
        case "count":
          if (e.metric === "fencedReports") this.fencedReports++;
          if (e.metric === "leasesLost") metrics?.leasesLost.inc();
          else (metrics?.[e.metric] as Counter<string> | undefined)?.inc(e.labels);
          break;
        case "observe":
          (metrics?.[e.metric] as Histogram<string> | undefined)?.observe(e.labels, e.seconds);
          break;
        case "log":
          log[e.level](e.fields, e.msg);
          break;
      }
    }
    await Promise.all(inFlight);
  }
}
