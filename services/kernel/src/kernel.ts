// The kernel's decisions: task creation, claims, fenced run reports, retries, cancel, and
// (issue 6) the check after every model round: budgets, approval policies, external tools,
// parking a task that waits for answers and resuming it when they are in.
// Every handler changes the record with compare-and-set, then runs `reconcile`, whose
// effects (status events, dispatch, abort) are idempotent and derived from the record
// alone, so a command redelivered after a crash repeats them safely.
import type { NatsConnection } from "@nats-io/transport-node";
import {
  type AnswerCall,
  type AnswerOutcome,
  type CallAnswer,
  type CancelTask,
  type ClaimReply,
  type ClaimRequest,
  type DispatchDue,
  type EventType,
  effectiveLimits,
  idempotencyRecordKey,
  isTerminal,
  modelProvider,
  type PendingCall,
  type PendingRound,
  planHasTool,
  type RoundReport,
  type RoundVerdict,
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
  unanswered,
  type WireError,
  type WorkItem,
  ZERO_USAGE,
} from "@switchyard/contracts";
import { buildEvent, encodeJson, type JetStreamClient, type KV, type Logger, newRunId, publishEvent, requestJson, traceHeaders } from "@switchyard/runtime";
import { approvalNeed } from "./approval.ts";
import { budgetExceeded, deadlinePassed } from "./budgets.ts";
import type { KernelMetrics } from "./kernel-metrics.ts";
import { backoffMs, shouldRetry } from "./retry.ts";
import { transition } from "./state-machine.ts";
import type { TaskStore } from "./task-store.ts";
import type { TenantIndex } from "./tenant-index.ts";
import { resultMismatches } from "./tool-results.ts";

/** Answered calls kept in a record for late answers (409 with the decision that stands). */
const ANSWERED_KEPT = 100;

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
  log: Logger;
  spawnerTimeoutMs: number;
  commandRetryMs: number;
  /** Per-tenant task index (GET /v1/tasks) and unfinished-task sets (quota) in Redis; absent in unit tests. */
  tenantIndex?: TenantIndex;
  /** Prometheus metrics (kernel-metrics.ts); absent in unit tests. */
  metrics?: KernelMetrics;
}

type RunReport = { task_id: string; run_id: string; attempt: number };

/**
 * Attempts that failed: every attempt but the ones that began as a resume of a parked task or
 * after a drain handed the run back (`resumes` counts both: neither is a failure).
 */
const failuresSoFar = (t: TaskRecord): number => t.attempt - t.resumes;

/** Moves the parked round's calls to `answered` once a checkpoint (or the end) has passed it. */
function settlePending(t: TaskRecord, completedRound: number | null): Pick<TaskRecord, "pending" | "answered"> {
  if (!t.pending || (completedRound !== null && completedRound < t.pending.round)) return { pending: t.pending, answered: t.answered };
  // Kept only to answer late answers with the one that stands: the call's args are in the
  // checkpoint's conversation already and would only make every later record write larger.
  const settled = t.pending.calls.filter((c) => c.kind !== "run").map((c) => ({ ...c, args: {} }));
  return { pending: null, answered: [...t.answered, ...settled].slice(-ANSWERED_KEPT) };
}

export class Kernel {
  readonly #d: KernelDeps;
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
    const { store, log } = this.#d;
    if (cmd.idempotency_key !== null) {
      const owner = await this.#claimIdempotencyKey(cmd);
      if (owner !== cmd.task_id) {
        log.info({ task_id: owner, dropped_task_id: cmd.task_id }, "duplicate submit (idempotency key) dropped");
        if (cmd.notify) {
          const earlier = await store.get(owner);
          if (earlier) this.#notifySubmitted(cmd, earlier.task);
        }
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
      // The gateway refused limits above the agent's; lowering is all a task can do.
      plan = { ...plan, limits: effectiveLimits(plan.limits, cmd.limits) };
    } catch (err) {
      if (err instanceof SwitchyardError && (err.code === "agent_not_found" || err.code === "invalid_agent" || err.code === "executor_not_allowed"))
        error = err.toWire();
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
      pending: null,
      answered: [],
      resumes: 0,
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
      { v: 1, agent: cmd.agent, tenant: cmd.tenant, ...(cmd.executor ? { executor: cmd.executor } : {}) },
      SpawnerReply,
      this.#d.spawnerTimeoutMs,
    );
    if (!reply.ok) throw new SwitchyardError(reply.error.code as "agent_not_found", reply.error.message, { details: reply.error.details });
    return RunPlan.parse(reply.value);
  }

  // ---- claims ----

  async claim(req: ClaimRequest): Promise<ClaimReply> {
    const refuse = (reason: "not_found" | "terminal" | "stale_attempt" | "already_claimed", message: string): ClaimReply => {
      this.#d.metrics?.claimsRefused.inc({ reason });
      return { v: 1, granted: false, task_id: req.task_id, reason, message };
    };
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
    if (res.changed) this.#d.metrics?.queueWait.observe({ kind: t.runner_kind }, Math.max(0, Date.now() - Date.parse(res.before.updated_at)) / 1000);
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
      usage: t.usage,
      // A parked round whose answers are all in: the run executes its calls first.
      resume: t.pending && unanswered(t.pending).length === 0 && (t.checkpoint?.round ?? 0) < t.pending.round ? t.pending : null,
    };
  }

  // ---- run reports (fenced by run_id) ----

  async checkpoint(cmd: RunCheckpointed): Promise<Outcome> {
    const t = await this.#applyReport("checkpoint", cmd, (t) => ({
      ...t,
      checkpoint: cmd.checkpoint,
      usage: cmd.checkpoint.usage,
      ...settlePending(t, cmd.checkpoint.round),
      updated_at: new Date().toISOString(),
    }));
    // A checkpoint the record cannot hold ends the task (task_too_large): announce it and stop the run.
    if (t && t.status !== "running") await this.reconcile(t);
    return ACK;
  }

  async finished(cmd: RunFinished): Promise<Outcome> {
    const t = await this.#applyReport("finished", cmd, (t) =>
      transition(t, "completed", { result: cmd.result, usage: cmd.usage, error: null, ...settlePending(t, null) }),
    );
    if (t) await this.reconcile(t, { runEnded: true });
    return ACK;
  }

  async failed(cmd: RunFailed): Promise<Outcome> {
    const t = await this.#applyReport("failed", cmd, (t) => {
      const policy = t.plan?.retry;
      if (policy && shouldRetry(cmd.error, failuresSoFar(t), policy)) {
        // A provider's Retry-After (cmd.not_before) is the earliest next attempt; the backoff may wait longer.
        const due = Math.max(Date.now() + backoffMs(policy, failuresSoFar(t)), cmd.not_before ? Date.parse(cmd.not_before) || 0 : 0);
        return transition(t, "queued", { attempt: t.attempt + 1, error: cmd.error, usage: cmd.usage, not_before: new Date(due).toISOString() });
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
        resumes: t.resumes + 1, // a hand-back is not a failure: it uses up no retry
        not_before: null,
        error: { code: "runner_released", message: `handed back by its runner: ${cmd.reason}`, retryable: true },
      }),
    );
    if (t) await this.reconcile(t);
    return ACK;
  }

  // ---- the check after every model round (sy.kernel.round, request/reply) ----

  /**
   * A run finished a model round. Budgets first (over budget: the task fails with
   * budget_exceeded); then each tool call is classified: external tools and calls the approval
   * policy holds make the task park (`input_required`, checkpoint written, the run ends and its
   * slot is free); otherwise the run proceeds. Fenced like every report: only the current run
   * gets `proceed`. A repeat of a round that already parked the task gets `park` again.
   */
  async round(req: RoundReport): Promise<RoundVerdict> {
    const now = new Date().toISOString();
    let verdict = { v: 1, verdict: "proceed" } as RoundVerdict;
    const res = await this.#d.store.mutate(
      req.task_id,
      (t) => {
        verdict = { v: 1, verdict: "proceed" };
        if (t.run_id !== req.run_id || t.attempt !== req.attempt) {
          verdict = { v: 1, verdict: "stop", reason: "fenced", message: `run ${req.run_id} is not the task's current run` };
          return null;
        }
        if (t.status === "input_required" && t.pending?.run_id === req.run_id && t.pending.round === req.round) {
          verdict = { v: 1, verdict: "park", waiting: unanswered(t.pending).map((c) => c.call_id) };
          return null;
        }
        if (t.status !== "running") {
          verdict = { v: 1, verdict: "stop", reason: isTerminal(t.status) ? "terminal" : "fenced", message: `task is ${t.status}` };
          return null;
        }
        const over = budgetExceeded(t, req, Date.now());
        if (over) {
          verdict = { v: 1, verdict: "stop", reason: "budget_exceeded", message: over.message };
          return transition(t, "failed", { error: over, usage: req.usage, ...settlePending(t, null) });
        }
        if (req.calls.length === 0 || !t.plan) return null;
        const plan = t.plan;
        const calls: PendingCall[] = req.calls.map((c) => this.#classifyCall(plan, c, now));
        const waiting = calls.filter((c) => c.kind !== "run");
        if (waiting.length === 0) return null;
        if (!req.can_park) {
          const message = `runner kind '${t.runner_kind}' cannot wait for answers, but ${waiting.map((c) => `${c.tool} (${c.call_id}) needs ${c.kind === "approval" ? "approval" : "an external result"}`).join(", ")}`;
          verdict = { v: 1, verdict: "stop", reason: "terminal", message };
          return transition(t, "failed", { error: { code: "parking_unsupported", message, retryable: false }, usage: req.usage, ...settlePending(t, null) });
        }
        verdict = { v: 1, verdict: "park", waiting: waiting.map((c) => c.call_id) };
        const pending: PendingRound = { round: req.round, run_id: req.run_id, attempt: req.attempt, parked_at: now, calls };
        return transition(t, "input_required", { pending, checkpoint: req.checkpoint ?? t.checkpoint, usage: req.usage, node_id: null });
      },
      // The common verdict, "proceed" on a running task, needs no read of the store; any other
      // verdict reached on this kernel's copy is checked against the store first.
      { noChangeOnCopy: () => verdict.verdict === "proceed" },
    );
    if (!res) return { v: 1, verdict: "stop", reason: "fenced", message: "no such task" };
    const t = res.after;
    verdict = verdict as RoundVerdict;
    this.#d.metrics?.rounds.inc({ verdict: verdict.verdict });
    if (verdict.verdict === "park") {
      if (res.changed) this.#d.log.info({ task_id: t.id, run_id: req.run_id, waiting: verdict.waiting }, "task parked: waiting for answers");
      // Also on a repeat: the first reply may have been lost before the events went out.
      await this.reconcile(t);
      await this.#publishApprovalRequests(t);
    } else if (res.changed) {
      this.#d.log.info({ task_id: t.id, error: t.error }, "task ended by its round check");
      await this.reconcile(t);
    } else if (verdict.verdict === "stop" && isTerminal(t.status)) {
      // This run's task is finished (stop/terminal is only said to the current run): perhaps by
      // this very round check, asked again because its kernel died before the effects went out.
      await this.reconcile(t, { runEnded: true });
    }
    return verdict;
  }

  #classifyCall(plan: RunPlan, call: { call_id: string; tool: string; args: Record<string, unknown> }, now: string): PendingCall {
    const base = { call_id: call.call_id, tool: call.tool, args: call.args, expires_at: null, answer: null };
    if (plan.external_tools.some((x) => x.name === call.tool)) return { ...base, kind: "external" };
    // A tool the agent does not have fails on the runner; there is nothing to approve.
    if (!planHasTool(plan, call.tool)) return { ...base, kind: "run" };
    const need = approvalNeed(plan.approval, call.tool, call.args);
    if (!need.needed) return { ...base, kind: "run" };
    const timeout = plan.approval.timeout_ms;
    return { ...base, kind: "approval", reason: need.reason, expires_at: timeout ? new Date(Date.parse(now) + timeout).toISOString() : null };
  }

  // ---- answers: approvals and external tool results (sy.cmd.answer) ----

  /**
   * A client answered a waiting call. The first answer wins (compare-and-set on the record);
   * a later one gets `already_decided` with the answer that stands; an unknown call is
   * `call_not_found`; a task that is not waiting is `task_not_waiting`. When the last waiting
   * call of the round is answered, the task resumes: `queued` as attempt + 1 (not counted
   * against retry.max_attempts), dispatched to any runner of its kind.
   */
  async answer(cmd: AnswerCall): Promise<Outcome> {
    const now = new Date().toISOString();
    let outcome: Omit<AnswerOutcome, "v" | "answer_id" | "task_id" | "call_id" | "task_status" | "waiting"> = {
      outcome: "call_not_found",
      message: "",
    };
    let repeat = false;
    const res = await this.#d.store.mutate(cmd.task_id, (t) => {
      repeat = false;
      const inPending = t.pending?.calls.find((c) => c.call_id === cmd.call_id);
      const call = inPending ?? t.answered.find((c) => c.call_id === cmd.call_id);
      if (call?.answer) {
        if (call.answer.answer_id === cmd.answer_id) {
          repeat = true; // this very command, redelivered: repeat its effects
          outcome = { outcome: "accepted", message: "answer recorded" };
        } else {
          outcome = { outcome: "already_decided", message: `call ${cmd.call_id} was already answered; the first answer stands`, standing: call.answer };
        }
        return null;
      }
      if (t.status !== "input_required" || !t.pending) {
        outcome = { outcome: "task_not_waiting", message: `task is ${t.status}, not waiting for an answer` };
        return null;
      }
      if (!inPending) {
        outcome = { outcome: "call_not_found", message: `task is not waiting for call '${cmd.call_id}'` };
        return null;
      }
      const wanted = inPending.kind === "approval" ? "approval" : inPending.kind === "external" ? "tool_result" : null;
      const given = cmd.answer.type === "approval" ? "approval" : "tool_result";
      if (wanted !== given) {
        outcome = {
          outcome: "wrong_kind",
          message:
            wanted === null
              ? `call ${cmd.call_id} needs no answer`
              : `call ${cmd.call_id} waits for ${wanted === "approval" ? "an approval (POST /approvals)" : "a tool result (POST /tool-results)"}`,
        };
        return null;
      }
      let answer: CallAnswer;
      if (cmd.answer.type === "approval") {
        answer = {
          type: "approval",
          decision: cmd.answer.decision,
          ...(cmd.answer.reason ? { reason: cmd.answer.reason } : {}),
          by: "client",
          answer_id: cmd.answer_id,
          decided_at: now,
        };
      } else if (cmd.answer.type === "tool_result") {
        const tool = t.plan?.external_tools.find((x) => x.name === inPending.tool);
        const mismatches = tool ? resultMismatches(tool, cmd.answer.result) : [];
        if (mismatches.length > 0) {
          const summary = mismatches
            .slice(0, 3)
            .map((m) => `${m.path} ${m.message}`)
            .join("; ");
          outcome = { outcome: "invalid_result", message: `result does not match the returns schema of '${inPending.tool}': ${summary}`, details: mismatches };
          return null;
        }
        answer = { type: "tool_result", result: cmd.answer.result, answer_id: cmd.answer_id, decided_at: now };
      } else {
        answer = { type: "tool_error", error: cmd.answer.error, answer_id: cmd.answer_id, decided_at: now };
      }
      outcome = { outcome: "accepted", message: "answer recorded" };
      return this.#withAnswers(t, new Map([[cmd.call_id, answer]]));
    });
    if (!res) {
      outcome = { outcome: "call_not_found", message: "no such task" };
    } else if (res.changed || (repeat && (res.after.status === "input_required" || res.after.status === "queued"))) {
      // A redelivered answer repeats its effects only while they may still be missing; once the
      // resumed attempt runs, they evidently went out.
      await this.#afterAnswers(res.before, res.after, [cmd.call_id]);
    }
    const t = res?.after;
    this.#notifyAnswer(cmd, {
      ...outcome,
      task_status: t?.status ?? "queued",
      waiting: unanswered(t?.pending ?? null).map((c) => c.call_id),
    });
    return ACK;
  }

  /** Records answers in the parked round; when none is left waiting, the task resumes. */
  #withAnswers(t: TaskRecord, answers: Map<string, CallAnswer>): TaskRecord {
    const p = t.pending as PendingRound;
    const pending: PendingRound = { ...p, calls: p.calls.map((c) => (answers.has(c.call_id) ? { ...c, answer: answers.get(c.call_id) ?? null } : c)) };
    if (unanswered(pending).length > 0) return { ...t, pending, updated_at: new Date().toISOString() };
    return transition(t, "queued", { pending, attempt: t.attempt + 1, resumes: t.resumes + 1, error: null, not_before: null });
  }

  /** Events of newly answered calls (approval.decided), then the resume when it happened. */
  async #afterAnswers(before: TaskRecord, after: TaskRecord, callIds: string[]): Promise<void> {
    const p = after.pending;
    if (p) {
      for (const id of callIds) {
        const c = p.calls.find((x) => x.call_id === id);
        if (c?.kind === "approval" && c.answer?.type === "approval") {
          await this.#publishTaskEvent(after, p.attempt, "approval.decided", `${after.id}:ad:${p.attempt}:${c.call_id}`, {
            round: p.round,
            call_id: c.call_id,
            tool: c.tool,
            decision: c.answer.decision,
            ...(c.answer.reason ? { reason: c.answer.reason } : {}),
            by: c.answer.by,
          });
        }
      }
    }
    if (after.status !== before.status || after.status !== "input_required") {
      if (after.status === "queued") this.#d.log.info({ task_id: after.id, attempt: after.attempt }, "task resumed: every waiting call is answered");
      await this.reconcile(after);
    } else {
      this.#d.tenantIndex?.note(after);
    }
  }

  #notifyAnswer(cmd: AnswerCall, rest: Omit<AnswerOutcome, "v" | "answer_id" | "task_id" | "call_id">): void {
    if (!cmd.notify) return;
    const msg: AnswerOutcome = { v: 1, answer_id: cmd.answer_id, task_id: cmd.task_id, call_id: cmd.call_id, ...rest };
    this.#d.nc.publish(cmd.notify, encodeJson(msg));
  }

  /**
   * Approvals whose policy timeout passed (the reaper's verdict for parked tasks past their
   * `wait_until`): rejected with a reason the model sees, or, with `on_timeout: fail`, the
   * task fails with approval_timeout. Returns whether it acted.
   */
  async approvalsTimedOut(taskId: string): Promise<boolean> {
    const nowMs = Date.now();
    const now = new Date(nowMs).toISOString();
    let expired: PendingCall[] = [];
    const res = await this.#d.store.mutate(taskId, (t) => {
      expired = [];
      if (t.status !== "input_required" || !t.pending) return null;
      expired = unanswered(t.pending).filter((c) => c.kind === "approval" && c.expires_at !== null && Date.parse(c.expires_at) <= nowMs);
      if (expired.length === 0) return null;
      const timeoutMs = t.plan?.approval.timeout_ms ?? 0;
      const answers = new Map<string, CallAnswer>(
        expired.map((c) => [
          c.call_id,
          {
            type: "approval",
            decision: "reject",
            reason: `no decision within ${timeoutMs} ms`,
            by: "timeout",
            answer_id: `timeout:${c.call_id}`,
            decided_at: now,
          },
        ]),
      );
      const answered = this.#withAnswers(t, answers);
      if (t.plan?.approval.on_timeout !== "fail") return answered;
      const tools = expired.map((c) => `${c.tool} (${c.call_id})`).join(", ");
      return transition({ ...t, pending: answered.pending }, "failed", {
        error: { code: "approval_timeout", message: `no approval within ${timeoutMs} ms for ${tools}`, retryable: false },
      });
    });
    if (res && !res.changed && (res.after.status === "input_required" || res.after.status === "queued")) {
      // Applied before (this verdict redelivered): its events and the resume go out again.
      const timedOut = (res.after.pending?.calls ?? []).filter((c) => c.answer?.type === "approval" && c.answer.by === "timeout").map((c) => c.call_id);
      if (timedOut.length > 0) await this.#afterAnswers(res.after, res.after, timedOut);
      return false;
    }
    if (!res?.changed) return this.#settle(res);
    this.#d.log.info({ task_id: taskId, calls: expired.map((c) => c.call_id), status: res.after.status }, "approval timed out");
    await this.#afterAnswers(
      res.before,
      res.after,
      expired.map((c) => c.call_id),
    );
    return true;
  }

  // ---- verdicts of the reaper (sy.cmd.reap, acked after their effects: ARCHITECTURE.md §5) ----

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
      return policy && shouldRetry(error, failuresSoFar(t), policy)
        ? transition(t, "queued", { attempt: t.attempt + 1, error, not_before: null })
        : transition(t, "failed", { error });
    });
    if (!res?.changed) {
      // Queued again from this very run: this verdict (or the run's own report) was applied
      // before; the dispatch and the abort go out again (idempotent).
      if (res?.after.status === "queued" && res.after.run_id === runId) {
        this.#abort(taskId, runId, "run fenced: lease lapsed", "fenced");
        await this.reconcile(res.after, { runEnded: true });
      }
      return this.#settle(res);
    }
    this.#d.log.warn(
      { task_id: taskId, run_id: runId, node_id: res.before.node_id, next: res.after.status, attempt: res.after.attempt },
      "run lost: lease lapsed",
    );
    this.#abort(res.after.id, runId, "run fenced: lease lapsed", "fenced");
    this.#d.metrics?.leasesLost.inc();
    await this.reconcile(res.after, { runEnded: true }); // the abort went out just above
    return true;
  }

  /**
   * A verdict found nothing to change. A finished task may be finished by this very verdict,
   * redelivered because its kernel died between the record write and its effects: they are
   * repeated (idempotent: message ids). Returns false.
   */
  async #settle(res: { after: TaskRecord } | null): Promise<false> {
    if (res && isTerminal(res.after.status)) await this.reconcile(res.after, { runEnded: true });
    return false;
  }

  /** A task past its deadline fails with budget_exceeded (`details.budget: "deadline"`), wherever it is, parked included. */
  async deadlineExceeded(taskId: string): Promise<boolean> {
    const res = await this.#d.store.mutate(taskId, (t) => {
      const error = isTerminal(t.status) ? null : deadlinePassed(t, Date.now());
      return error ? transition(t, "failed", { error }) : null;
    });
    if (!res?.changed) return this.#settle(res);
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
    if (!res?.changed) return this.#settle(res);
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
    // Redelivered: repeat its effects (a checkpoint's only when it ended the task: task_too_large).
    if (sameRun && t.status !== "running" && (kind !== "checkpoint" || isTerminal(t.status))) return t;
    if (t.run_id !== cmd.run_id || t.attempt !== cmd.attempt) {
      this.fencedReports++;
      this.#d.metrics?.fencedReports.inc({ report: kind });
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
    // The reaper's view is the record itself (ARCHITECTURE.md §3): a kernel that dies right
    // after granting a claim leaves a record that says `running`, the reaper finds no lease and
    // re-dispatches. Effects lost to a kernel's death are repeated by the command's redelivery.
    this.#d.tenantIndex?.note(t);
    const perAttempt = status === "queued" || status === "running" || status === "input_required";
    const msgId = perAttempt ? `${t.id}:s:${status}:${t.attempt}` : `${t.id}:s:${status}`;
    const data: Record<string, unknown> = { status, attempt: t.attempt };
    if (status === "input_required" && t.pending) {
      const waiting = unanswered(t.pending);
      data.waiting = waiting.map((c) => ({ call_id: c.call_id, tool: c.tool, kind: c.kind }));
      data.reason = `waiting for ${waiting.map((c) => `${c.kind === "approval" ? "approval of" : "the result of"} ${c.tool} (${c.call_id})`).join(", ")}`;
    }
    if (status === "queued" && !t.error && t.pending && unanswered(t.pending).length === 0) data.reason = "resumed: every waiting call is answered";
    if (status === "completed" && t.result) data.result = t.result;
    if ((status === "failed" || status === "canceled" || (status === "queued" && t.attempt > 1)) && t.error) data.error = t.error;
    const target = { tenant: t.tenant, agent: t.agent, task_id: t.id };
    // The status event and the work item go out together: one round trip, one socket write.
    // Ordering against the next status event holds: the task's lock is held until both are acked.
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
    await Promise.all(effects);
    const m = this.#d.metrics;
    if (m) {
      m.statusChanges.inc({ status, agent: t.agent });
      if (isTerminal(status) && t.started_at && t.finished_at)
        m.runDuration.observe({ status }, Math.max(0, Date.parse(t.finished_at) - Date.parse(t.started_at)) / 1000);
    }
  }

  /** approval.requested for every approval the parked round waits for (idempotent message ids). */
  async #publishApprovalRequests(t: TaskRecord): Promise<void> {
    const p = t.pending;
    if (!p || t.status !== "input_required") return;
    for (const c of unanswered(p)) {
      if (c.kind !== "approval") continue;
      await this.#publishTaskEvent(t, p.attempt, "approval.requested", `${t.id}:ar:${p.attempt}:${c.call_id}`, {
        round: p.round,
        call_id: c.call_id,
        tool: c.tool,
        args: c.args,
        reason: c.reason ?? "",
        expires_at: c.expires_at,
      });
    }
  }

  async #publishTaskEvent(t: TaskRecord, attempt: number, type: EventType, msgId: string, data: Record<string, unknown>): Promise<void> {
    const target = { tenant: t.tenant, agent: t.agent, task_id: t.id };
    await publishEvent(this.#d.js, target, buildEvent(target, t.run_id, attempt, type, data), msgId);
  }

  #abort(taskId: string, runId: string | null, reason: string, cause: TaskControl["cause"] = "ended"): void {
    const ctl: TaskControl = { v: 1, action: "abort", task_id: taskId, run_id: runId, reason, cause };
    this.#d.nc.publish(subjects.taskControl(taskId), encodeJson(ctl));
  }

  async #publishWork(t: TaskRecord): Promise<void> {
    // A real model runs only on nodes with its provider: the item says which (nodes without it leave it).
    const provider = t.plan?.agent_kind === "llm" ? modelProvider(t.plan.model) : null;
    const item: WorkItem = { v: 1, task_id: t.id, attempt: t.attempt, kind: t.runner_kind, ...(provider ? { provider } : {}) };
    await this.#d.js.publish(subjects.work(t.runner_kind), encodeJson(item), { msgID: `${t.id}:w:${t.attempt}`, ...traceHeaders() });
  }
}
