// The kernel's decisions: task creation, claims, fenced run reports, retries and cancel.
// Every handler changes the record with compare-and-set, then runs `reconcile`, whose
// effects (status events, dispatch, abort) are idempotent and derived from the record
// alone, so a command redelivered after a crash repeats them safely.
import type { NatsConnection } from "@nats-io/transport-node";
import {
  type ActiveTask,
  type CancelTask,
  type ClaimReply,
  type ClaimRequest,
  type DispatchDue,
  idempotencyRecordKey,
  isTerminal,
  type RunCheckpointed,
  type RunFailed,
  type RunFinished,
  RunPlan,
  type RunReleased,
  SpawnerReply,
  type SubmitAccepted,
  type SubmitTask,
  SwitchyardError,
  subjects,
  type TaskControl,
  type TaskRecord,
  type TaskStatus,
  type WireError,
  type WorkItem,
  ZERO_USAGE,
} from "@switchyard/contracts";
import { buildEvent, encodeJson, type JetStreamClient, type KV, type Logger, newRunId, publishEvent, requestJson } from "@switchyard/runtime";
import { backoffMs, shouldRetry } from "./retry.ts";
import { transition } from "./state-machine.ts";
import type { TaskStore } from "./task-store.ts";

/** What to do with the command message: done, or try again after a delay. */
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
  /** Index of non-terminal tasks, kept by `reconcile`, watched by the reaper. */
  active: KV;
  log: Logger;
  spawnerTimeoutMs: number;
  commandRetryMs: number;
}

type RunReport = { task_id: string; run_id: string; attempt: number };

/** created_at + the plan's deadline, or null when the agent has none. */
export function deadlineOf(t: TaskRecord): string | null {
  const ms = t.plan?.limits.deadline_ms;
  return ms ? new Date(Date.parse(t.created_at) + ms).toISOString() : null;
}

export class Kernel {
  readonly #d: KernelDeps;
  /** Reports rejected because their run is not the task's current one. */
  fencedReports = 0;

  constructor(deps: KernelDeps) {
    this.#d = deps;
  }

  // ---- submit ----

  async submit(cmd: SubmitTask): Promise<Outcome> {
    const { store, log } = this.#d;
    if (cmd.idempotency_key !== null) {
      const owner = await this.#claimIdempotencyKey(cmd);
      if (owner !== cmd.task_id) {
        log.info({ task_id: owner, dropped_task_id: cmd.task_id }, "duplicate submit (idempotency key) dropped");
        const earlier = await store.get(owner);
        if (earlier) this.#notifySubmitted(cmd, earlier.task);
        return ACK;
      }
    }
    const existing = await store.get(cmd.task_id);
    if (existing) {
      await this.reconcile(existing.task);
      this.#notifySubmitted(cmd, existing.task);
      return ACK;
    }
    let plan: RunPlan | null = null;
    let error: WireError | null = null;
    try {
      plan = await this.#compilePlan(cmd);
    } catch (err) {
      if (err instanceof SwitchyardError && (err.code === "agent_not_found" || err.code === "invalid_agent")) error = err.toWire();
      else return { ack: false, retryInMs: this.#d.commandRetryMs, reason: `spawner: ${(err as Error).message}` };
    }
    const now = new Date().toISOString();
    const executor = plan?.executor ?? cmd.executor ?? { type: "local" as const };
    const task: TaskRecord = {
      v: 1,
      id: cmd.task_id,
      tenant: cmd.tenant,
      agent: cmd.agent,
      input: cmd.input,
      executor,
      runner_kind: plan?.runner_kind ?? "local",
      status: error ? "failed" : "queued",
      attempt: 1,
      run_id: null,
      node_id: null,
      created_at: cmd.submitted_at,
      updated_at: now,
      started_at: null,
      finished_at: error ? now : null,
      result: null,
      error,
      usage: ZERO_USAGE,
      metadata: cmd.metadata,
      idempotency_key: cmd.idempotency_key,
      plan,
      checkpoint: null,
      not_before: null,
    };
    if (!(await store.create(task))) {
      const raced = await store.get(task.id);
      if (raced) {
        await this.reconcile(raced.task);
        this.#notifySubmitted(cmd, raced.task);
      }
      return ACK;
    }
    log.debug({ task_id: task.id, status: task.status }, "task created");
    this.#notifySubmitted(cmd, task);
    await this.reconcile(task);
    return ACK;
  }

  /** Tells the submitting gateway that the task exists, so its 202 is followed by a readable task. */
  #notifySubmitted(cmd: SubmitTask, task: TaskRecord): void {
    if (!cmd.notify) return;
    const msg: SubmitAccepted = { v: 1, task_id: task.id, submitted_task_id: cmd.task_id, status: task.status, agent: task.agent };
    this.#d.nc.publish(cmd.notify, encodeJson(msg));
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

  async #compilePlan(cmd: SubmitTask): Promise<RunPlan> {
    const reply = await requestJson(
      this.#d.nc,
      subjects.plan,
      { v: 1, agent: cmd.agent, ...(cmd.executor ? { executor: cmd.executor } : {}) },
      SpawnerReply,
      this.#d.spawnerTimeoutMs,
    );
    if (!reply.ok) throw new SwitchyardError(reply.error.code as "agent_not_found", reply.error.message);
    return RunPlan.parse(reply.value);
  }

  // ---- claims ----

  async claim(req: ClaimRequest): Promise<ClaimReply> {
    const refuse = (reason: "not_found" | "terminal" | "stale_attempt" | "already_claimed", message: string): ClaimReply => ({
      v: 1,
      granted: false,
      task_id: req.task_id,
      reason,
      message,
    });
    const res = await this.#d.store.mutate(req.task_id, (t) => {
      if (t.status !== "queued" || t.attempt !== req.attempt) return null;
      if (t.not_before && Date.parse(t.not_before) > Date.now()) return null;
      return transition(t, "running", { run_id: newRunId(), node_id: req.node_id, started_at: new Date().toISOString(), not_before: null });
    });
    if (!res) return refuse("not_found", "no such task");
    const t = res.after;
    if (!res.changed) {
      if (isTerminal(t.status)) return refuse("terminal", `task is ${t.status}`);
      if (t.attempt !== req.attempt) return refuse("stale_attempt", `attempt ${req.attempt} is stale; current is ${t.attempt}`);
      // A claim whose reply was lost: the same node asking again for the same attempt gets the same run.
      if (t.status !== "running" || t.node_id !== req.node_id) return refuse("already_claimed", `task is ${t.status} on ${t.node_id ?? "no node"}`);
    }
    await this.reconcile(t);
    if (!t.plan || !t.run_id) throw new Error(`task ${t.id} is running without a plan or run id`);
    return {
      v: 1,
      granted: true,
      task_id: t.id,
      run_id: t.run_id,
      attempt: t.attempt,
      tenant: t.tenant,
      agent: t.agent,
      input: t.input,
      plan: t.plan,
      checkpoint: t.checkpoint,
    };
  }

  // ---- run reports (fenced by run_id) ----

  async checkpoint(cmd: RunCheckpointed): Promise<Outcome> {
    await this.#applyReport("checkpoint", cmd, (t) => ({
      ...t,
      checkpoint: cmd.checkpoint,
      usage: cmd.checkpoint.usage,
      updated_at: new Date().toISOString(),
    }));
    return ACK;
  }

  async finished(cmd: RunFinished): Promise<Outcome> {
    const t = await this.#applyReport("finished", cmd, (t) => transition(t, "completed", { result: cmd.result, usage: cmd.usage, error: null }));
    if (t) await this.reconcile(t, { runEnded: true });
    return ACK;
  }

  async failed(cmd: RunFailed): Promise<Outcome> {
    const t = await this.#applyReport("failed", cmd, (t) => {
      const policy = t.plan?.retry;
      if (policy && shouldRetry(cmd.error, t.attempt, policy)) {
        const delay = backoffMs(policy, t.attempt);
        return transition(t, "queued", { attempt: t.attempt + 1, error: cmd.error, usage: cmd.usage, not_before: new Date(Date.now() + delay).toISOString() });
      }
      return transition(t, "failed", { error: cmd.error, usage: cmd.usage });
    });
    if (t) await this.reconcile(t, { runEnded: true });
    return ACK;
  }

  async released(cmd: RunReleased): Promise<Outcome> {
    const t = await this.#applyReport("released", cmd, (t) =>
      transition(t, "queued", {
        attempt: t.attempt + 1,
        not_before: null,
        error: { code: "runner_released", message: `handed back by its runner: ${cmd.reason}`, retryable: true },
      }),
    );
    if (t) await this.reconcile(t);
    return ACK;
  }

  // ---- decisions of the reaper ----

  /**
   * The run's lease lapsed: its runner is dead or cut off. Fence the run and re-dispatch from
   * the last checkpoint (attempt + 1) while attempts remain, else fail. Returns whether it acted.
   */
  async runLost(taskId: string, runId: string): Promise<boolean> {
    const res = await this.#d.store.mutate(taskId, (t) => {
      if (t.status !== "running" || t.run_id !== runId) return null;
      const error: WireError = {
        code: "runner_lost",
        message: `no lease from run ${runId} on ${t.node_id ?? "?"}: its runner died, was cut off, or never started the run`,
        retryable: true,
      };
      const policy = t.plan?.retry;
      return policy && shouldRetry(error, t.attempt, policy)
        ? transition(t, "queued", { attempt: t.attempt + 1, error, not_before: null })
        : transition(t, "failed", { error });
    });
    if (!res?.changed) return false;
    this.#d.log.warn(
      { task_id: taskId, run_id: runId, node_id: res.before.node_id, next: res.after.status, attempt: res.after.attempt },
      "run lost: lease lapsed",
    );
    this.#abort(res.after.id, runId, "run fenced: lease lapsed");
    await this.reconcile(res.after);
    return true;
  }

  /** A task past its deadline fails with deadline_exceeded, wherever it is. */
  async deadlineExceeded(taskId: string): Promise<boolean> {
    const res = await this.#d.store.mutate(taskId, (t) => {
      const deadline = deadlineOf(t);
      if (isTerminal(t.status) || deadline === null || Date.parse(deadline) > Date.now()) return null;
      return transition(t, "failed", { error: { code: "deadline_exceeded", message: `task passed its deadline (${deadline})`, retryable: false } });
    });
    if (!res?.changed) return false;
    this.#d.log.info({ task_id: taskId }, "deadline exceeded");
    await this.reconcile(res.after);
    return true;
  }

  /** A queued task whose kind no live node has served for too long fails with no_runner. */
  async queueTimedOut(taskId: string, attempt: number, waitedMs: number): Promise<boolean> {
    const res = await this.#d.store.mutate(taskId, (t) =>
      t.status !== "queued" || t.attempt !== attempt
        ? null
        : transition(t, "failed", {
            error: { code: "no_runner", message: `no runner node served kind '${t.runner_kind}' for ${Math.round(waitedMs / 1000)} s`, retryable: false },
          }),
    );
    if (!res?.changed) return false;
    this.#d.log.warn({ task_id: taskId, kind: res.after.runner_kind }, "queue timeout: no runner serves the kind");
    await this.reconcile(res.after);
    return true;
  }

  /**
   * Applies a report from the task's current run. A report from any other run (or attempt)
   * is fenced: logged and dropped. Returns the record to reconcile, which is also the case
   * when this same report was applied before (a redelivery after a crash).
   */
  async #applyReport(kind: string, cmd: RunReport, decide: (t: TaskRecord) => TaskRecord): Promise<TaskRecord | null> {
    const res = await this.#d.store.mutate(cmd.task_id, (t) => {
      if (t.status !== "running" || t.run_id !== cmd.run_id || t.attempt !== cmd.attempt) return null;
      return decide(t);
    });
    if (!res) {
      this.#d.log.warn({ task_id: cmd.task_id, run_id: cmd.run_id, kind }, "report for unknown task dropped");
      return null;
    }
    if (res.changed) return res.after;
    const t = res.after;
    const sameRun = t.run_id === cmd.run_id && (t.attempt === cmd.attempt || t.attempt === cmd.attempt + 1);
    if (sameRun && kind !== "checkpoint" && t.status !== "running") return t; // redelivered: repeat its effects
    if (t.run_id !== cmd.run_id || t.attempt !== cmd.attempt) {
      this.fencedReports++;
      this.#d.log.warn(
        { task_id: cmd.task_id, run_id: cmd.run_id, current_run_id: t.run_id, attempt: cmd.attempt, kind },
        "fenced: report from a run that is not current",
      );
    }
    return null;
  }

  // ---- cancel ----

  async cancel(cmd: CancelTask): Promise<Outcome> {
    const res = await this.#d.store.mutate(cmd.task_id, (t) =>
      isTerminal(t.status) ? null : transition(t, "canceled", { error: { code: "canceled", message: cmd.reason ?? "canceled by request", retryable: false } }),
    );
    // The submit may still be on its way (commands are handled concurrently); a task that never
    // appears is given up on after a bounded number of tries.
    if (!res) return { ack: false, retryInMs: this.#d.commandRetryMs, reason: "task not created yet", maxDeliveries: 20 };
    if (res.after.status === "canceled") await this.reconcile(res.after);
    return ACK;
  }

  // ---- delayed dispatch ----

  async dispatchDue(cmd: DispatchDue): Promise<Outcome> {
    const wait = Date.parse(cmd.due_at) - Date.now();
    if (wait > 0) return { ack: false, retryInMs: wait, reason: "not due" };
    const stored = await this.#d.store.get(cmd.task_id);
    if (stored && stored.task.status === "queued" && stored.task.attempt === cmd.attempt) await this.#publishWork(stored.task);
    return ACK;
  }

  // ---- effects ----

  /**
   * Makes the world match the record: status event, dispatch, abort. Idempotent. `runEnded`:
   * the change came from the run's own outcome report, so there is no run left to abort.
   */
  async reconcile(t: TaskRecord, opts: { runEnded?: boolean } = {}): Promise<void> {
    const status: TaskStatus = t.status;
    const msgId = status === "queued" || status === "running" ? `${t.id}:s:${status}:${t.attempt}` : `${t.id}:s:${status}`;
    const data: Record<string, unknown> = { status, attempt: t.attempt };
    if (status === "completed" && t.result) data.result = t.result;
    if ((status === "failed" || status === "canceled" || (status === "queued" && t.attempt > 1)) && t.error) data.error = t.error;
    const target = { tenant: t.tenant, agent: t.agent, task_id: t.id };
    // Independent effects go out together: one round trip instead of three, and one socket write.
    // Ordering against the next status event holds: the task's lock is held until all are acked.
    const effects: Promise<unknown>[] = [publishEvent(this.#d.js, target, buildEvent(target, t.run_id, t.attempt, "status", data), msgId)];
    if (status === "queued") {
      const due = t.not_before ? Date.parse(t.not_before) : 0;
      if (due > Date.now()) {
        const cmd: DispatchDue = { v: 1, task_id: t.id, attempt: t.attempt, due_at: t.not_before as string };
        effects.push(this.#d.js.publish(subjects.dispatchDue, encodeJson(cmd), { msgID: `${t.id}:d:${t.attempt}` }));
      } else {
        effects.push(this.#publishWork(t));
      }
    } else if (isTerminal(status) && t.run_id && !opts.runEnded) {
      // Stops a run that is still going (cancel, deadline, a record too large).
      this.#abort(t.id, t.run_id, t.error?.message ?? status);
    }
    effects.push(this.#index(t));
    await Promise.all(effects);
  }

  /** Keeps KV sy_active in step with the record: non-terminal tasks only. */
  async #index(t: TaskRecord): Promise<void> {
    if (isTerminal(t.status)) {
      await this.#d.active.delete(t.id);
      return;
    }
    const entry: ActiveTask = {
      task_id: t.id,
      status: t.status,
      attempt: t.attempt,
      run_id: t.run_id,
      runner_kind: t.runner_kind,
      since: t.updated_at,
      deadline_at: deadlineOf(t),
    };
    await this.#d.active.put(t.id, JSON.stringify(entry));
  }

  #abort(taskId: string, runId: string | null, reason: string): void {
    const ctl: TaskControl = { v: 1, action: "abort", task_id: taskId, run_id: runId, reason };
    this.#d.nc.publish(subjects.taskControl(taskId), encodeJson(ctl));
  }

  async #publishWork(t: TaskRecord): Promise<void> {
    const item: WorkItem = { v: 1, task_id: t.id, attempt: t.attempt, kind: t.runner_kind };
    await this.#d.js.publish(subjects.work(t.runner_kind), encodeJson(item), { msgID: `${t.id}:w:${t.attempt}` });
  }
}
