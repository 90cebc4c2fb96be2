// The kernel's decisions as pure functions (ARCHITECTURE.md §10): each takes the task record as
// stored (null: no such task), the input, and a context that brings everything nondeterministic
// (clock, run ids, jitter), and returns the next record (null: no change), the effects to carry
// out once it is written, and the reply. No I/O: the Kernel (kernel.ts) loads, writes with
// compare-and-set, and executes the effects. The round check and the answers are in decide-park.ts.
import {
  type CancelTask,
  type ClaimReply,
  type ClaimRequest,
  type DispatchDue,
  effectiveLimits,
  isTerminal,
  modelProvider,
  type RunCheckpointed,
  type RunFailed,
  type RunFinished,
  type RunPlan,
  type RunReleased,
  type SubmitAccepted,
  type SubmitTask,
  type TaskRecord,
  unanswered,
  type WireError,
  ZERO_USAGE,
} from "@switchyard/contracts";
import { deadlinePassed } from "./budgets.ts";
import { abortEffect, type Effect, effectsOf, logEffect, workEffect } from "./effects.ts";
import { backoffMs, shouldRetry } from "./retry.ts";
import { transition } from "./state-machine.ts";

export interface DecideCtx {
  /** The clock, in ms since the epoch: one moment for the whole decision. */
  now: number;
  newRunId(): string;
  /** For the retry backoff's jitter, in [0, 1). */
  random(): number;
  /**
   * What the store keeps of a decided record, when not the record itself: TaskStore writes a
   * record too large for NATS as failed with `task_too_large` (and a finished task without its
   * checkpoint). The Kernel decides again with this set, so effects and reply follow what was
   * written. Absent: the record as decided.
   */
  fit?(decided: TaskRecord): TaskRecord;
}

export interface Decision<R = undefined> {
  /** The record to write, or null for no change. */
  next: TaskRecord | null;
  /** In order; carried out after the write (or at once when nothing changes). */
  effects: Effect[];
  reply: R;
}

export const isoAt = (ms: number): string => new Date(ms).toISOString();

/** The decided record as the store will keep it (see DecideCtx.fit). */
export const written = (ctx: DecideCtx, t: TaskRecord): TaskRecord => (ctx.fit ? ctx.fit(t) : t);

/**
 * Attempts that failed: every attempt but the ones that began as a resume of a parked task or
 * after a drain handed the run back (`resumes` counts both: neither is a failure).
 */
export const failuresSoFar = (t: TaskRecord): number => t.attempt - t.resumes;

/** Answered calls kept in a record for late answers (409 with the decision that stands). */
const ANSWERED_KEPT = 100;

/** Moves the parked round's calls to `answered` once a checkpoint (or the end) has passed it. */
export function settlePending(t: TaskRecord, completedRound: number | null): Pick<TaskRecord, "pending" | "answered"> {
  if (!t.pending || (completedRound !== null && completedRound < t.pending.round)) return { pending: t.pending, answered: t.answered };
  // Kept only to answer late answers with the one that stands: the call's args are in the
  // checkpoint's conversation already and would only make every later record write larger.
  const settled = t.pending.calls.filter((c) => c.kind !== "run").map((c) => ({ ...c, args: {} }));
  return { pending: null, answered: [...t.answered, ...settled].slice(-ANSWERED_KEPT) };
}

const unchanged = <R>(effects: Effect[], reply: R): Decision<R> => ({ next: null, effects, reply });

// ---- submit ----

/** The spawner's answer for a new task: its run plan, or why the agent cannot run. */
export type Compiled = { plan: RunPlan } | { error: WireError };

function notifySubmitted(cmd: SubmitTask, task: TaskRecord): Effect[] {
  if (!cmd.notify) return [];
  const msg: SubmitAccepted = { v: 1, task_id: task.id, submitted_task_id: cmd.task_id, status: task.status, agent: task.agent };
  return [{ type: "notify", subject: cmd.notify, msg }];
}

/**
 * A submit whose task exists (a redelivery, or a create that lost a race) repeats the task's
 * effects and tells the gateway; a new one becomes a record, `queued` with its plan or
 * `failed` with the plan's error. `compiled` may be null only when the record exists.
 */
export function decideSubmit(existing: TaskRecord | null, cmd: SubmitTask, compiled: Compiled | null, ctx: DecideCtx): Decision {
  if (existing) return unchanged([...effectsOf(existing, { now: ctx.now }), ...notifySubmitted(cmd, existing)], undefined);
  if (!compiled) throw new Error(`submit of ${cmd.task_id}: a new task needs its compiled plan`);
  // The gateway refused limits above the agent's; lowering is all a task can do.
  const plan = "plan" in compiled ? { ...compiled.plan, limits: effectiveLimits(compiled.plan.limits, cmd.limits) } : null;
  const error = "error" in compiled ? compiled.error : null;
  const now = isoAt(ctx.now);
  const task: TaskRecord = {
    v: 1,
    id: cmd.task_id,
    tenant: cmd.tenant,
    agent: cmd.agent,
    input: cmd.input,
    executor: plan?.executor ?? cmd.executor ?? { type: "local" as const },
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
  return {
    next: task,
    effects: [
      logEffect("debug", { task_id: task.id, status: task.status }, "task created"),
      ...notifySubmitted(cmd, task),
      ...effectsOf(task, { now: ctx.now }),
    ],
    reply: undefined,
  };
}

/** A submit whose idempotency key an earlier task (`ownerId`) holds is dropped; the gateway hears of the earlier task. */
export function decideDuplicateSubmit(earlier: TaskRecord | null, cmd: SubmitTask, ownerId: string): Decision {
  const dropped = logEffect("info", { task_id: ownerId, dropped_task_id: cmd.task_id }, "duplicate submit (idempotency key) dropped");
  return unchanged([dropped, ...(earlier ? notifySubmitted(cmd, earlier) : [])], undefined);
}

// ---- claims ----

type RefusalReason = "not_found" | "terminal" | "stale_attempt" | "already_claimed";

function refuse(effects: Effect[], taskId: string, reason: RefusalReason, message: string): Decision<ClaimReply> {
  return unchanged([...effects, { type: "count", metric: "claimsRefused", labels: { reason } }], { v: 1, granted: false, task_id: taskId, reason, message });
}

function grant(t: TaskRecord): ClaimReply {
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
    created_at: t.created_at,
  };
}

/**
 * A node asks to run the task's current attempt: granted with a fresh run id (`running`), or
 * refused. The same node asking again for the same attempt (its reply was lost) gets the same run.
 */
export function decideClaim(t: TaskRecord | null, req: ClaimRequest, ctx: DecideCtx): Decision<ClaimReply> {
  if (!t) return refuse([], req.task_id, "not_found", "no such task");
  if (t.status === "queued" && t.attempt === req.attempt && !(t.not_before && Date.parse(t.not_before) > ctx.now)) {
    const now = isoAt(ctx.now);
    const next = written(ctx, transition(t, "running", { run_id: ctx.newRunId(), node_id: req.node_id, started_at: now, not_before: null }, now));
    const waited: Effect = {
      type: "observe",
      metric: "queueWait",
      labels: { kind: next.runner_kind },
      seconds: Math.max(0, ctx.now - Date.parse(t.updated_at)) / 1000,
    };
    return { next, effects: [waited, ...effectsOf(next, { now: ctx.now })], reply: grant(next) };
  }
  if (isTerminal(t.status)) return refuse([], t.id, "terminal", `task is ${t.status}`);
  if (t.attempt !== req.attempt) return refuse([], t.id, "stale_attempt", `attempt ${req.attempt} is stale; current is ${t.attempt}`);
  if (t.status !== "running" || t.node_id !== req.node_id) return refuse([], t.id, "already_claimed", `task is ${t.status} on ${t.node_id ?? "no node"}`);
  return unchanged(effectsOf(t, { now: ctx.now }), grant(t));
}

// ---- run reports (fenced by run_id) ----

type RunReport = { task_id: string; run_id: string; attempt: number };
type ReportKind = "checkpoint" | "finished" | "failed" | "released";

/**
 * Applies a report from the task's current run (`apply`; `effects` of the record it wrote). A
 * report from any other run (or attempt) is fenced: logged, counted and dropped. A redelivery of
 * an outcome this run reported before repeats that outcome's effects.
 */
function decideReport(
  t: TaskRecord | null,
  cmd: RunReport,
  kind: ReportKind,
  ctx: DecideCtx,
  apply: (t: TaskRecord) => TaskRecord,
  effects: (after: TaskRecord) => Effect[],
): Decision {
  if (!t) return unchanged([logEffect("warn", { task_id: cmd.task_id, run_id: cmd.run_id, kind }, "report for unknown task dropped")], undefined);
  if (t.status === "running" && t.run_id === cmd.run_id && t.attempt === cmd.attempt) {
    const next = written(ctx, apply(t));
    return { next, effects: effects(next), reply: undefined };
  }
  const sameRun = t.run_id === cmd.run_id && (t.attempt === cmd.attempt || t.attempt === cmd.attempt + 1);
  // Redelivered: repeat its effects; a checkpoint's only when it ended the task (task_too_large),
  // perhaps by a kernel that died before announcing it and aborting the run.
  const endedByCheckpoint = t.status === "failed" && t.error?.code === "task_too_large";
  if (sameRun && t.status !== "running" && (kind !== "checkpoint" || endedByCheckpoint)) return unchanged(effects(t), undefined);
  if (t.run_id !== cmd.run_id || t.attempt !== cmd.attempt) {
    return unchanged(
      [
        { type: "count", metric: "fencedReports", labels: { report: kind } },
        logEffect(
          "warn",
          { task_id: cmd.task_id, run_id: cmd.run_id, current_run_id: t.run_id, attempt: cmd.attempt, kind },
          "fenced: report from a run that is not current",
        ),
      ],
      undefined,
    );
  }
  return unchanged([], undefined);
}

export function decideCheckpoint(t: TaskRecord | null, cmd: RunCheckpointed, ctx: DecideCtx): Decision {
  return decideReport(
    t,
    cmd,
    "checkpoint",
    ctx,
    (t) => ({ ...t, checkpoint: cmd.checkpoint, usage: cmd.checkpoint.usage, ...settlePending(t, cmd.checkpoint.round), updated_at: isoAt(ctx.now) }),
    // A checkpoint the record cannot hold ends the task (task_too_large): announce it and stop the run.
    (after) => (after.status !== "running" ? effectsOf(after, { now: ctx.now }) : []),
  );
}

export function decideFinished(t: TaskRecord | null, cmd: RunFinished, ctx: DecideCtx): Decision {
  return decideReport(
    t,
    cmd,
    "finished",
    ctx,
    (t) => transition(t, "completed", { result: cmd.result, usage: cmd.usage, error: null, ...settlePending(t, null) }, isoAt(ctx.now)),
    (after) => effectsOf(after, { now: ctx.now, runEnded: true }),
  );
}

/** Retried (attempt + 1 after the backoff, or a provider's Retry-After if later) while the policy allows, else failed. */
export function decideFailed(t: TaskRecord | null, cmd: RunFailed, ctx: DecideCtx): Decision {
  return decideReport(
    t,
    cmd,
    "failed",
    ctx,
    (t) => {
      const policy = t.plan?.retry;
      if (policy && shouldRetry(cmd.error, failuresSoFar(t), policy)) {
        // A provider's Retry-After (cmd.not_before) is the earliest next attempt; the backoff may wait longer.
        const due = Math.max(ctx.now + backoffMs(policy, failuresSoFar(t), ctx.random), cmd.not_before ? Date.parse(cmd.not_before) || 0 : 0);
        return transition(t, "queued", { attempt: t.attempt + 1, error: cmd.error, usage: cmd.usage, not_before: isoAt(due) }, isoAt(ctx.now));
      }
      // Ending the task settles a parked round still on record (the runner enforces budgets on a
      // final round now, so a resumed run may fail before its checkpoint settled it).
      return transition(t, "failed", { error: cmd.error, usage: cmd.usage, ...settlePending(t, null) }, isoAt(ctx.now));
    },
    (after) => effectsOf(after, { now: ctx.now, runEnded: true }),
  );
}

/** A draining runner handed the run back: re-dispatched at once, not counted as a failure. */
export function decideReleased(t: TaskRecord | null, cmd: RunReleased, ctx: DecideCtx): Decision {
  return decideReport(
    t,
    cmd,
    "released",
    ctx,
    (t) =>
      transition(
        t,
        "queued",
        {
          attempt: t.attempt + 1,
          resumes: t.resumes + 1, // a hand-back is not a failure: it uses up no retry
          not_before: null,
          error: { code: "runner_released", message: `handed back by its runner: ${cmd.reason}`, retryable: true },
        },
        isoAt(ctx.now),
      ),
    (after) => effectsOf(after, { now: ctx.now }),
  );
}

// ---- cancel ----

/** `task_not_created`: the submit may still be on its way (commands are handled concurrently). */
export function decideCancel(t: TaskRecord | null, cmd: CancelTask, ctx: DecideCtx): Decision<"done" | "task_not_created"> {
  if (!t) return unchanged([], "task_not_created");
  if (isTerminal(t.status)) {
    // Canceled before: a redelivery, whose effects may be missing.
    return unchanged(t.status === "canceled" ? effectsOf(t, { now: ctx.now }) : [], "done");
  }
  const next = written(
    ctx,
    transition(t, "canceled", { error: { code: "canceled", message: cmd.reason ?? "canceled by request", retryable: false } }, isoAt(ctx.now)),
  );
  return { next, effects: effectsOf(next, { now: ctx.now }), reply: "done" };
}

// ---- delayed dispatch ----

/** A dispatch held back until due: the work item goes out if the task still waits for that attempt. */
export function decideDispatchDue(t: TaskRecord | null, cmd: DispatchDue): Decision {
  return unchanged(t && t.status === "queued" && t.attempt === cmd.attempt ? [workEffect(t)] : [], undefined);
}

// ---- verdicts of the reaper (sy.cmd.reap, acked after their effects: ARCHITECTURE.md §5; reply: whether it acted) ----

/**
 * A verdict found nothing to change. A finished task may be finished by this very verdict,
 * redelivered because its kernel died between the record write and its effects: they are
 * repeated (idempotent: message ids).
 */
export function settle(t: TaskRecord | null, ctx: DecideCtx): Decision<boolean> {
  return unchanged(t && isTerminal(t.status) ? effectsOf(t, { now: ctx.now, runEnded: true }) : [], false);
}

/**
 * The run's lease lapsed: its runner is dead or cut off. Fence the run and re-dispatch from the
 * last checkpoint (attempt + 1) while attempts remain, else fail.
 */
export function decideRunLost(t: TaskRecord | null, taskId: string, runId: string, ctx: DecideCtx): Decision<boolean> {
  if (t?.status === "queued" && t.run_id === runId) {
    // Queued again from this very run: this verdict (or the run's own report) was applied
    // before, perhaps by a kernel that died before its effects; the abort and the dispatch go
    // out again (idempotent).
    return unchanged([abortEffect(t.id, runId, "run fenced: lease lapsed", "fenced"), ...effectsOf(t, { now: ctx.now, runEnded: true })], false);
  }
  if (t?.status !== "running" || t.run_id !== runId) return settle(t, ctx);
  const error: WireError = {
    code: "runner_lost",
    message: `no lease from run ${runId} on ${t.node_id ?? "?"}: its runner died, was cut off, or never started the run`,
    retryable: true,
  };
  const policy = t.plan?.retry;
  const now = isoAt(ctx.now);
  const next = written(
    ctx,
    policy && shouldRetry(error, failuresSoFar(t), policy)
      ? transition(t, "queued", { attempt: t.attempt + 1, error, not_before: null }, now)
      : transition(t, "failed", { error }, now),
  );
  return {
    next,
    effects: [
      logEffect("warn", { task_id: taskId, run_id: runId, node_id: t.node_id, next: next.status, attempt: next.attempt }, "run lost: lease lapsed"),
      abortEffect(next.id, runId, "run fenced: lease lapsed", "fenced"),
      { type: "count", metric: "leasesLost", labels: {} },
      ...effectsOf(next, { now: ctx.now, runEnded: true }), // the abort goes out just before
    ],
    reply: true,
  };
}

/** A task past its deadline fails with budget_exceeded (`details.budget: "deadline"`), wherever it is, parked included. */
export function decideDeadlineExceeded(t: TaskRecord | null, taskId: string, ctx: DecideCtx): Decision<boolean> {
  const error = t && !isTerminal(t.status) ? deadlinePassed(t, ctx.now) : null;
  // Failed by its deadline already (this verdict redelivered, its kernel perhaps dead before the
  // effects): they go out again, the abort of a run that may still be going included.
  if (t?.status === "failed" && t.error?.code === "budget_exceeded" && (t.error.details as { budget?: unknown } | undefined)?.budget === "deadline")
    return unchanged(effectsOf(t, { now: ctx.now }), false);
  if (!t || !error) return settle(t, ctx);
  const next = written(ctx, transition(t, "failed", { error }, isoAt(ctx.now)));
  return { next, effects: [logEffect("info", { task_id: taskId }, "deadline exceeded"), ...effectsOf(next, { now: ctx.now })], reply: true };
}

/** A queued task whose kind no live node has served for too long fails with no_runner. */
export function decideQueueTimedOut(t: TaskRecord | null, taskId: string, attempt: number, waitedMs: number, ctx: DecideCtx): Decision<boolean> {
  if (t?.status !== "queued" || t.attempt !== attempt) return settle(t, ctx);
  const provider = t.plan?.agent_kind === "llm" ? modelProvider(t.plan.model) : null;
  const error: WireError = {
    code: "no_runner",
    message: `no runner node ${provider ? `with provider '${provider}' ` : ""}served kind '${t.runner_kind}' for ${Math.round(waitedMs / 1000)} s`,
    retryable: false,
  };
  const next = written(ctx, transition(t, "failed", { error }, isoAt(ctx.now)));
  return {
    next,
    effects: [logEffect("warn", { task_id: taskId, kind: next.runner_kind }, "queue timeout: no runner serves the kind"), ...effectsOf(next, { now: ctx.now })],
    reply: true,
  };
}
