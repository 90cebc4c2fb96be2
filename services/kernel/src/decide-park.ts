// The kernel's pure decisions about waiting (ARCHITECTURE.md §10, issue 6): the check after every
// model round (budgets, approval policies, external tools: proceed, park or stop), the answers
// to a parked round, and approvals whose timeout passed. Same shape as decide.ts.
import {
  type AnswerCall,
  type AnswerOutcome,
  type CallAnswer,
  isTerminal,
  type PendingCall,
  type PendingRound,
  planHasTool,
  type RoundReport,
  type RoundVerdict,
  type RunPlan,
  type TaskRecord,
  unanswered,
} from "@switchyard/contracts";
import { approvalNeed } from "./approval.ts";
import { budgetExceeded } from "./budgets.ts";
import { type DecideCtx, type Decision, isoAt, settle, settlePending, written } from "./decide.ts";
import { approvalDecisions, approvalRequests, type Effect, effectsOf, logEffect } from "./effects.ts";
import { transition } from "./state-machine.ts";
import { resultMismatches } from "./tool-results.ts";

// ---- the check after every model round (sy.kernel.round, request/reply) ----

export function classifyCall(plan: RunPlan, call: { call_id: string; tool: string; args: Record<string, unknown> }, nowMs: number): PendingCall {
  const base = { call_id: call.call_id, tool: call.tool, args: call.args, expires_at: null, answer: null };
  if (plan.external_tools.some((x) => x.name === call.tool)) return { ...base, kind: "external" };
  // A tool the agent does not have fails on the runner; there is nothing to approve.
  if (!planHasTool(plan, call.tool)) return { ...base, kind: "run" };
  const need = approvalNeed(plan.approval, call.tool, call.args);
  if (!need.needed) return { ...base, kind: "run" };
  const timeout = plan.approval.timeout_ms;
  return { ...base, kind: "approval", reason: need.reason, expires_at: timeout ? isoAt(nowMs + timeout) : null };
}

/** The verdict and the record it leads to (null: no change). */
function roundVerdict(t: TaskRecord, req: RoundReport, ctx: DecideCtx): { verdict: RoundVerdict; next: TaskRecord | null } {
  const stay = (verdict: RoundVerdict) => ({ verdict, next: null });
  if (t.run_id !== req.run_id || t.attempt !== req.attempt) {
    return stay({ v: 1, verdict: "stop", reason: "fenced", message: `run ${req.run_id} is not the task's current run` });
  }
  if (t.status === "input_required" && t.pending?.run_id === req.run_id && t.pending.round === req.round) {
    return stay({ v: 1, verdict: "park", waiting: unanswered(t.pending).map((c) => c.call_id) });
  }
  if (t.status !== "running") return stay({ v: 1, verdict: "stop", reason: isTerminal(t.status) ? "terminal" : "fenced", message: `task is ${t.status}` });
  const now = isoAt(ctx.now);
  const over = budgetExceeded(t, req, ctx.now);
  if (over) {
    return {
      verdict: { v: 1, verdict: "stop", reason: "budget_exceeded", message: over.message },
      next: transition(t, "failed", { error: over, usage: req.usage, ...settlePending(t, null) }, now),
    };
  }
  const proceed = stay({ v: 1, verdict: "proceed" });
  if (req.calls.length === 0 || !t.plan) return proceed;
  const plan = t.plan;
  const calls: PendingCall[] = req.calls.map((c) => classifyCall(plan, c, ctx.now));
  const waiting = calls.filter((c) => c.kind !== "run");
  if (waiting.length === 0) return proceed;
  if (!req.can_park) {
    const message = `runner kind '${t.runner_kind}' cannot wait for answers, but ${waiting.map((c) => `${c.tool} (${c.call_id}) needs ${c.kind === "approval" ? "approval" : "an external result"}`).join(", ")}`;
    return {
      verdict: { v: 1, verdict: "stop", reason: "terminal", message },
      next: transition(t, "failed", { error: { code: "parking_unsupported", message, retryable: false }, usage: req.usage, ...settlePending(t, null) }, now),
    };
  }
  const pending: PendingRound = { round: req.round, run_id: req.run_id, attempt: req.attempt, parked_at: now, calls };
  return {
    verdict: { v: 1, verdict: "park", waiting: waiting.map((c) => c.call_id) },
    next: transition(t, "input_required", { pending, checkpoint: req.checkpoint ?? t.checkpoint, usage: req.usage, node_id: null }, now),
  };
}

/**
 * A run finished a model round. Budgets first (over budget: the task fails with
 * budget_exceeded); then each tool call is classified: external tools and calls the approval
 * policy holds make the task park (`input_required`, checkpoint written, the run ends and its
 * slot is free); otherwise the run proceeds. Fenced like every report: only the current run
 * gets `proceed`. A repeat of a round that already parked the task gets `park` again, and the
 * park's effects again (the first reply may have been lost before they went out).
 */
export function decideRound(t: TaskRecord | null, req: RoundReport, ctx: DecideCtx): Decision<RoundVerdict> {
  if (!t) return { next: null, effects: [], reply: { v: 1, verdict: "stop", reason: "fenced", message: "no such task" } };
  const { verdict, next: decided } = roundVerdict(t, req, ctx);
  const next = decided && written(ctx, decided);
  const after = next ?? t;
  const effects: Effect[] = [{ type: "count", metric: "rounds", labels: { verdict: verdict.verdict } }];
  if (verdict.verdict === "park") {
    if (next) effects.push(logEffect("info", { task_id: after.id, run_id: req.run_id, waiting: verdict.waiting }, "task parked: waiting for answers"));
    effects.push(...effectsOf(after, { now: ctx.now }), ...approvalRequests(after));
  } else if (next) {
    effects.push(logEffect("info", { task_id: next.id, error: next.error }, "task ended by its round check"), ...effectsOf(next, { now: ctx.now }));
  } else if (verdict.verdict === "stop" && verdict.reason === "terminal") {
    // This run's task is finished (`terminal` is said only to the current run): perhaps by this
    // very round check, asked again because its kernel died before the effects went out.
    effects.push(...effectsOf(t, { now: ctx.now, runEnded: true }));
  }
  return { next, effects, reply: verdict };
}

// ---- answers: approvals and external tool results (sy.cmd.answer) ----

/** Records answers in the parked round; when none is left waiting, the task resumes (attempt + 1, not a failure). */
function withAnswers(t: TaskRecord, answers: Map<string, CallAnswer>, now: string): TaskRecord {
  const p = t.pending as PendingRound;
  const pending: PendingRound = { ...p, calls: p.calls.map((c) => (answers.has(c.call_id) ? { ...c, answer: answers.get(c.call_id) ?? null } : c)) };
  if (unanswered(pending).length > 0) return { ...t, pending, updated_at: now };
  return transition(t, "queued", { pending, attempt: t.attempt + 1, resumes: t.resumes + 1, error: null, not_before: null }, now);
}

/** Events of newly answered calls (approval.decided), then the resume when it happened, else the tenant index notes the record. */
function afterAnswers(before: TaskRecord, after: TaskRecord, callIds: string[], ctx: DecideCtx): Effect[] {
  const effects = approvalDecisions(after, callIds);
  if (after.status !== before.status || after.status !== "input_required") {
    if (after.status === "queued")
      effects.push(logEffect("info", { task_id: after.id, attempt: after.attempt }, "task resumed: every waiting call is answered"));
    effects.push(...effectsOf(after, { now: ctx.now }));
  } else {
    effects.push({ type: "note", task: after });
  }
  return effects;
}

type Verdict = Pick<AnswerOutcome, "outcome" | "message" | "standing" | "details">;

/** The answer to record, or the outcome that refuses it (no change). */
function judgeAnswer(t: TaskRecord, cmd: AnswerCall, now: string): { answer: CallAnswer } | { refused: Verdict; repeat: boolean } {
  const no = (refused: Verdict) => ({ refused, repeat: false });
  const inPending = t.pending?.calls.find((c) => c.call_id === cmd.call_id);
  const call = inPending ?? t.answered.find((c) => c.call_id === cmd.call_id);
  if (call?.answer) {
    // This very command, redelivered: accepted again, and its effects repeated.
    if (call.answer.answer_id === cmd.answer_id) return { refused: { outcome: "accepted", message: "answer recorded" }, repeat: true };
    return no({ outcome: "already_decided", message: `call ${cmd.call_id} was already answered; the first answer stands`, standing: call.answer });
  }
  if (t.status !== "input_required" || !t.pending) return no({ outcome: "task_not_waiting", message: `task is ${t.status}, not waiting for an answer` });
  if (!inPending) return no({ outcome: "call_not_found", message: `task is not waiting for call '${cmd.call_id}'` });
  const wanted = inPending.kind === "approval" ? "approval" : inPending.kind === "external" ? "tool_result" : null;
  const given = cmd.answer.type === "approval" ? "approval" : "tool_result";
  if (wanted !== given) {
    return no({
      outcome: "wrong_kind",
      message:
        wanted === null
          ? `call ${cmd.call_id} needs no answer`
          : `call ${cmd.call_id} waits for ${wanted === "approval" ? "an approval (POST /approvals)" : "a tool result (POST /tool-results)"}`,
    });
  }
  if (cmd.answer.type === "approval") {
    const { decision, reason } = cmd.answer;
    return { answer: { type: "approval", decision, ...(reason ? { reason } : {}), by: "client", answer_id: cmd.answer_id, decided_at: now } };
  }
  if (cmd.answer.type === "tool_error") return { answer: { type: "tool_error", error: cmd.answer.error, answer_id: cmd.answer_id, decided_at: now } };
  const tool = t.plan?.external_tools.find((x) => x.name === inPending.tool);
  const mismatches = tool ? resultMismatches(tool, cmd.answer.result) : [];
  if (mismatches.length > 0) {
    const summary = mismatches
      .slice(0, 3)
      .map((m) => `${m.path} ${m.message}`)
      .join("; ");
    return no({ outcome: "invalid_result", message: `result does not match the returns schema of '${inPending.tool}': ${summary}`, details: mismatches });
  }
  return { answer: { type: "tool_result", result: cmd.answer.result, answer_id: cmd.answer_id, decided_at: now } };
}

/**
 * A client answered a waiting call. The first answer wins (compare-and-set on the record);
 * a later one gets `already_decided` with the answer that stands; an unknown call is
 * `call_not_found`; a task that is not waiting is `task_not_waiting`. When the last waiting
 * call of the round is answered, the task resumes: `queued` as attempt + 1 (not counted
 * against retry.max_attempts), dispatched to any runner of its kind. The reply goes to the
 * gateway (`notify`) after the other effects.
 */
export function decideAnswer(t: TaskRecord | null, cmd: AnswerCall, ctx: DecideCtx): Decision<AnswerOutcome> {
  let verdict: Verdict = { outcome: "call_not_found", message: "no such task" };
  let next: TaskRecord | null = null;
  const effects: Effect[] = [];
  if (t) {
    const judged = judgeAnswer(t, cmd, isoAt(ctx.now));
    if ("answer" in judged) {
      verdict = { outcome: "accepted", message: "answer recorded" };
      next = written(ctx, withAnswers(t, new Map([[cmd.call_id, judged.answer]]), isoAt(ctx.now)));
      effects.push(...afterAnswers(t, next, [cmd.call_id], ctx));
    } else {
      verdict = judged.refused;
      // A redelivered answer repeats its effects only while they may still be missing; once the
      // resumed attempt runs, they evidently went out.
      if (judged.repeat && (t.status === "input_required" || t.status === "queued")) effects.push(...afterAnswers(t, t, [cmd.call_id], ctx));
    }
  }
  const after = next ?? t;
  const reply: AnswerOutcome = {
    v: 1,
    answer_id: cmd.answer_id,
    task_id: cmd.task_id,
    call_id: cmd.call_id,
    ...verdict,
    task_status: after?.status ?? "queued",
    waiting: unanswered(after?.pending ?? null).map((c) => c.call_id),
  };
  if (cmd.notify) effects.push({ type: "notify", subject: cmd.notify, msg: reply });
  return { next, effects, reply };
}

// ---- approval timeouts (the reaper) ----

/** Calls of the parked round answered by their approval timeout. */
const timedOutCalls = (t: TaskRecord): string[] =>
  (t.pending?.calls ?? []).filter((c) => c.answer?.type === "approval" && c.answer.by === "timeout").map((c) => c.call_id);

/**
 * Approvals whose policy timeout passed (the reaper's verdict for parked tasks past their
 * `wait_until`): rejected with a reason the model sees, or, with `on_timeout: fail`, the
 * task fails with approval_timeout. Reply: whether it acted.
 */
export function decideApprovalsTimedOut(t: TaskRecord | null, taskId: string, ctx: DecideCtx): Decision<boolean> {
  const expired =
    t?.status === "input_required"
      ? unanswered(t.pending).filter((c) => c.kind === "approval" && c.expires_at !== null && Date.parse(c.expires_at) <= ctx.now)
      : [];
  if (!t?.pending || expired.length === 0) {
    // Applied before (this verdict redelivered, its kernel perhaps dead before the effects): the
    // approval.decided events and the resume go out again while they may still be missing.
    // (Also for a task this verdict failed, `on_timeout: fail`: its decisions and its end, abort included.)
    const repeat =
      t && (t.status === "input_required" || t.status === "queued" || (t.status === "failed" && t.error?.code === "approval_timeout")) ? timedOutCalls(t) : [];
    return t && repeat.length > 0 ? { next: null, effects: afterAnswers(t, t, repeat, ctx), reply: false } : settle(t, ctx);
  }
  const now = isoAt(ctx.now);
  const timeoutMs = t.plan?.approval.timeout_ms ?? 0;
  const answers = new Map<string, CallAnswer>(
    expired.map((c) => [
      c.call_id,
      { type: "approval", decision: "reject", reason: `no decision within ${timeoutMs} ms`, by: "timeout", answer_id: `timeout:${c.call_id}`, decided_at: now },
    ]),
  );
  const answered = withAnswers(t, answers, now);
  const tools = expired.map((c) => `${c.tool} (${c.call_id})`).join(", ");
  const next = written(
    ctx,
    t.plan?.approval.on_timeout !== "fail"
      ? answered
      : transition(
          { ...t, pending: answered.pending },
          "failed",
          { error: { code: "approval_timeout", message: `no approval within ${timeoutMs} ms for ${tools}`, retryable: false } },
          now,
        ),
  );
  const ids = expired.map((c) => c.call_id);
  return {
    next,
    effects: [logEffect("info", { task_id: taskId, calls: ids, status: next.status }, "approval timed out"), ...afterAnswers(t, next, ids, ctx)],
    reply: true,
  };
}
