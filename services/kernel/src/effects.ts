// What the kernel does after a decision, as plain data (ARCHITECTURE.md §10): the pure
// decisions (decide.ts, decide-park.ts) return these, and the Kernel's one executor carries them
// out. Every effect is idempotent (message ids derived from the record), so a command
// redelivered after a crash between the record write and its effects repeats them safely.
import {
  type AnswerOutcome,
  type DispatchDue,
  type EventType,
  isTerminal,
  modelProvider,
  type SubmitAccepted,
  type TaskControl,
  type TaskRecord,
  type TaskStatus,
  unanswered,
  type WorkItem,
} from "@switchyard/contracts";

export interface EventTarget {
  tenant: string;
  agent: string;
  task_id: string;
}

export type Effect =
  /**
   * The tenant index (Redis: listing, quotas) notes the record; not awaited. The reaper needs no
   * index: it reads the record writes' view header (ARCHITECTURE.md §3).
   */
  | { type: "note"; task: TaskRecord }
  /** A task event on SY_EVENTS with an idempotent message id. */
  | { type: "event"; target: EventTarget; run_id: string | null; attempt: number; event: EventType; data: Record<string, unknown>; msgId: string }
  | { type: "work"; item: WorkItem; msgId: string }
  /** A dispatch due later (retry backoff), held back on `sy.cmd.dispatch-due`. */
  | { type: "dispatch-due"; cmd: DispatchDue; msgId: string }
  /** Core NATS, fire and forget: stops the run on its runner. */
  | { type: "abort"; control: TaskControl }
  /** Core NATS: the submitting or answering gateway is told the outcome (after the effects before it). */
  | { type: "notify"; subject: string; msg: SubmitAccepted | AnswerOutcome }
  | { type: "count"; metric: "statusChanges" | "rounds" | "claimsRefused" | "fencedReports" | "leasesLost"; labels: Record<string, string> }
  | { type: "observe"; metric: "queueWait" | "runDuration"; labels: Record<string, string>; seconds: number }
  | { type: "log"; level: "debug" | "info" | "warn"; fields: Record<string, unknown>; msg: string };

export const targetOf = (t: TaskRecord): EventTarget => ({ tenant: t.tenant, agent: t.agent, task_id: t.id });

export function abortEffect(taskId: string, runId: string | null, reason: string, cause: TaskControl["cause"] = "ended"): Effect {
  return { type: "abort", control: { v: 1, action: "abort", task_id: taskId, run_id: runId, reason, cause } };
}

export function workEffect(t: TaskRecord): Effect {
  // A real model runs only on nodes with its provider: the item says which (nodes without it leave it).
  const provider = t.plan?.agent_kind === "llm" ? modelProvider(t.plan.model) : null;
  const item: WorkItem = { v: 1, task_id: t.id, attempt: t.attempt, kind: t.runner_kind, ...(provider ? { provider } : {}) };
  return { type: "work", item, msgId: `${t.id}:w:${t.attempt}` };
}

export function logEffect(level: "debug" | "info" | "warn", fields: Record<string, unknown>, msg: string): Effect {
  return { type: "log", level, fields, msg };
}

/**
 * Makes the world match the record: tenant index, status event, dispatch (now or due later),
 * abort, metrics. Derived from the record alone. `runEnded`: the change came from the run's own
 * outcome report (or the run is known to be over), so there is no run left to abort.
 */
export function effectsOf(t: TaskRecord, opts: { now: number; runEnded?: boolean }): Effect[] {
  const status: TaskStatus = t.status;
  // The reaper's view is the record itself (ARCHITECTURE.md §3): a kernel that dies right after
  // granting a claim leaves a record that says `running`, the reaper finds no lease and
  // re-dispatches. Effects lost to a kernel's death are repeated by the command's redelivery.
  const effects: Effect[] = [{ type: "note", task: t }];
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
  // The status event and the work item go out together (the executor awaits them as one).
  effects.push({ type: "event", target: targetOf(t), run_id: t.run_id, attempt: t.attempt, event: "status", data, msgId });
  if (status === "queued") {
    const due = t.not_before ? Date.parse(t.not_before) : 0;
    if (due > opts.now) {
      const cmd: DispatchDue = { v: 1, task_id: t.id, attempt: t.attempt, due_at: t.not_before as string };
      effects.push({ type: "dispatch-due", cmd, msgId: `${t.id}:d:${t.attempt}` });
    } else {
      effects.push(workEffect(t));
    }
  } else if (isTerminal(status) && t.run_id && !opts.runEnded) {
    // Stops a run that is still going (cancel, deadline, a record too large).
    effects.push(abortEffect(t.id, t.run_id, t.error?.message ?? status));
  }
  effects.push({ type: "count", metric: "statusChanges", labels: { status, agent: t.agent } });
  if (isTerminal(status) && t.started_at && t.finished_at)
    effects.push({
      type: "observe",
      metric: "runDuration",
      labels: { status },
      seconds: Math.max(0, Date.parse(t.finished_at) - Date.parse(t.started_at)) / 1000,
    });
  return effects;
}

/** approval.requested for every approval the parked round waits for (idempotent message ids). */
export function approvalRequests(t: TaskRecord): Effect[] {
  const p = t.pending;
  if (!p || t.status !== "input_required") return [];
  return unanswered(p)
    .filter((c) => c.kind === "approval")
    .map((c) => ({
      type: "event",
      target: targetOf(t),
      run_id: t.run_id,
      attempt: p.attempt,
      event: "approval.requested",
      msgId: `${t.id}:ar:${p.attempt}:${c.call_id}`,
      data: { round: p.round, call_id: c.call_id, tool: c.tool, args: c.args, reason: c.reason ?? "", expires_at: c.expires_at },
    }));
}

/** approval.decided for each of these calls answered with a decision (idempotent message ids). */
export function approvalDecisions(t: TaskRecord, callIds: string[]): Effect[] {
  const p = t.pending;
  if (!p) return [];
  const effects: Effect[] = [];
  for (const id of callIds) {
    const c = p.calls.find((x) => x.call_id === id);
    if (c?.kind === "approval" && c.answer?.type === "approval") {
      effects.push({
        type: "event",
        target: targetOf(t),
        run_id: t.run_id,
        attempt: p.attempt,
        event: "approval.decided",
        msgId: `${t.id}:ad:${p.attempt}:${c.call_id}`,
        data: {
          round: p.round,
          call_id: c.call_id,
          tool: c.tool,
          decision: c.answer.decision,
          ...(c.answer.reason ? { reason: c.answer.reason } : {}),
          by: c.answer.by,
        },
      });
    }
  }
  return effects;
}
