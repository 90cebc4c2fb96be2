// The kernel's decisions, without NATS or Redis: each pure function is given a record, an input
// and a fixed context (clock, run id, jitter), and its next record, effects and reply are
// checked exactly (ARCHITECTURE.md §10).
import type { AnswerCall, Checkpoint, PendingCall, PendingRound, RoundReport, RunPlan, SubmitTask, TaskRecord, Usage } from "@switchyard/contracts";
import { describe, expect, it } from "vitest";
import {
  type DecideCtx,
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
import { type Effect, effectsOf } from "./effects.ts";
import { T0, taskRecord } from "./test-fixtures.ts";

const ID = "01a201a7-9eed-72ff-9d64-122373e39111";
const NOW_MS = Date.parse(T0) + 60_000;
const NOW = new Date(NOW_MS).toISOString(); // 2025-01-01T00:01:00.000Z
const STARTED = "2025-01-01T00:00:30.000Z";
const at = (ms: number) => new Date(NOW_MS + ms).toISOString();
const ctx: DecideCtx = { now: NOW_MS, newRunId: () => "run-new", random: () => 0.5 };
const target = { tenant: "acme", agent: "hello", task_id: ID };
const usage = (total: number): Usage => ({ input_tokens: total, output_tokens: 0, total_tokens: total });

const plan: RunPlan = {
  v: 1,
  agent: "hello",
  agent_kind: "scripted",
  model: "scripted",
  instructions: "",
  tools: ["echo", "payments.charge"],
  external_tools: [
    {
      name: "lookup",
      description: "",
      parameters: { type: "object" },
      returns: { type: "object", properties: { ok: { type: "boolean" } }, required: ["ok"] },
      external: true,
    },
  ],
  executor: { type: "local" },
  runner_kind: "local",
  limits: { max_rounds: 16 },
  retry: { max_attempts: 3, initial_backoff_ms: 1000, max_backoff_ms: 30_000 },
  approval: { policy: "pattern", tools: ["payments.*"], timeout_ms: 60_000 },
};

/** A task running as run-1 on node-a since STARTED. */
const running = (over: Partial<TaskRecord> = {}) =>
  taskRecord("running", { plan, run_id: "run-1", node_id: "node-a", started_at: STARTED, updated_at: STARTED, ...over });

const status = (t: TaskRecord, data: Record<string, unknown>, msgId: string): Effect => ({
  type: "event",
  target,
  run_id: t.run_id,
  attempt: t.attempt,
  event: "status",
  data,
  msgId,
});
const work = (attempt: number): Effect => ({ type: "work", item: { v: 1, task_id: ID, attempt, kind: "local" }, msgId: `${ID}:w:${attempt}` });
const counted = (s: string): Effect => ({ type: "count", metric: "statusChanges", labels: { status: s, agent: "hello" } });
const abort = (runId: string, reason: string, cause: "ended" | "fenced" = "ended"): Effect => ({
  type: "abort",
  control: { v: 1, action: "abort", task_id: ID, run_id: runId, reason, cause },
});
const ran = (s: string, seconds: number): Effect => ({ type: "observe", metric: "runDuration", labels: { status: s }, seconds });

// ---- effectsOf ----

describe("effectsOf", () => {
  it("a new queued task: noted in the tenant index first, then its status event and work item, then counted", () => {
    const t = taskRecord("queued", { plan });
    expect(effectsOf(t, { now: NOW_MS })).toEqual([
      { type: "note", task: t },
      status(t, { status: "queued", attempt: 1 }, `${ID}:s:queued:1`),
      work(1),
      counted("queued"),
    ]);
  });

  it("a retry due later goes out as a dispatch-due command (with the error), one due now as work", () => {
    const error = { code: "runner_error", message: "boom", retryable: true };
    const later = taskRecord("queued", { plan, attempt: 2, run_id: "run-1", error, not_before: at(5000) });
    expect(effectsOf(later, { now: NOW_MS })).toEqual([
      { type: "note", task: later },
      status(later, { status: "queued", attempt: 2, error }, `${ID}:s:queued:2`),
      { type: "dispatch-due", cmd: { v: 1, task_id: ID, attempt: 2, due_at: at(5000) }, msgId: `${ID}:d:2` },
      counted("queued"),
    ]);
    expect(effectsOf(later, { now: NOW_MS + 5000 })[2]).toEqual(work(2));
  });

  it("the work item of a real model names its provider", () => {
    const t = taskRecord("queued", { plan: { ...plan, agent_kind: "llm", model: "openai:gpt-4o-mini" } });
    expect(effectsOf(t, { now: NOW_MS })[2]).toEqual({
      type: "work",
      item: { v: 1, task_id: ID, attempt: 1, kind: "local", provider: "openai" },
      msgId: `${ID}:w:1`,
    });
  });

  it("running: noted and announced, no dispatch", () => {
    const t = running({ attempt: 2 });
    expect(effectsOf(t, { now: NOW_MS })).toEqual([
      { type: "note", task: t },
      status(t, { status: "running", attempt: 2 }, `${ID}:s:running:2`),
      counted("running"),
    ]);
  });

  it("input_required says which calls wait, and why", () => {
    const t = running({ status: "input_required", node_id: null, pending: pendingRound([approvalCall("c1"), externalCall("c2"), runCall("c3")]) });
    expect(effectsOf(t, { now: NOW_MS })).toEqual([
      { type: "note", task: t },
      status(
        t,
        {
          status: "input_required",
          attempt: 1,
          waiting: [
            { call_id: "c1", tool: "payments.charge", kind: "approval" },
            { call_id: "c2", tool: "lookup", kind: "external" },
          ],
          reason: "waiting for approval of payments.charge (c1), the result of lookup (c2)",
        },
        `${ID}:s:input_required:1`,
      ),
      counted("input_required"),
    ]);
  });

  it("a resume says so", () => {
    const t = taskRecord("queued", { plan, attempt: 2, resumes: 1, run_id: "run-1", pending: pendingRound([answered(approvalCall("c1"))]) });
    expect(effectsOf(t, { now: NOW_MS })[1]).toEqual(
      status(t, { status: "queued", attempt: 2, reason: "resumed: every waiting call is answered" }, `${ID}:s:queued:2`),
    );
  });

  it("completed by its run: the result, no abort, the run's duration", () => {
    const t = running({ status: "completed", result: { text: "hi" }, finished_at: NOW });
    expect(effectsOf(t, { now: NOW_MS, runEnded: true })).toEqual([
      { type: "note", task: t },
      status(t, { status: "completed", attempt: 1, result: { text: "hi" } }, `${ID}:s:completed`),
      counted("completed"),
      ran("completed", 30),
    ]);
  });

  it("ended while its run goes on (cancel, deadline): the run is aborted with the error's message", () => {
    const error = { code: "canceled", message: "stop it", retryable: false };
    const t = running({ status: "canceled", error, finished_at: NOW });
    expect(effectsOf(t, { now: NOW_MS })).toEqual([
      { type: "note", task: t },
      status(t, { status: "canceled", attempt: 1, error }, `${ID}:s:canceled`),
      abort("run-1", "stop it"),
      counted("canceled"),
      ran("canceled", 30),
    ]);
  });

  it("a task that never ran has nothing to abort and no run duration", () => {
    const error = { code: "agent_not_found", message: "no agent", retryable: false };
    const t = taskRecord("failed", { error, finished_at: T0 });
    expect(effectsOf(t, { now: NOW_MS })).toEqual([
      { type: "note", task: t },
      status(t, { status: "failed", attempt: 1, error }, `${ID}:s:failed`),
      counted("failed"),
    ]);
  });
});

// ---- submit ----

const submit = (over: Partial<SubmitTask> = {}): SubmitTask => ({
  v: 1,
  task_id: ID,
  tenant: "acme",
  agent: "hello",
  input: "hi",
  metadata: { k: "v" },
  idempotency_key: null,
  submitted_at: T0,
  notify: "_INBOX.gw",
  ...over,
});

describe("decideSubmit", () => {
  it("a new task is queued with its plan (limits lowered by the task's own), announced to the gateway and dispatched", () => {
    const d = decideSubmit(null, submit({ limits: { max_rounds: 4, deadline_ms: 9000 } }), { plan }, ctx);
    const next = taskRecord("queued", {
      plan: { ...plan, limits: { max_rounds: 4, deadline_ms: 9000 } },
      metadata: { k: "v" },
      created_at: T0,
      updated_at: NOW,
    });
    expect(d.next).toEqual(next);
    expect(d.effects).toEqual([
      { type: "log", level: "debug", fields: { task_id: ID, status: "queued" }, msg: "task created" },
      { type: "notify", subject: "_INBOX.gw", msg: { v: 1, task_id: ID, submitted_task_id: ID, status: "queued", agent: "hello" } },
      ...effectsOf(next, { now: NOW_MS }),
    ]);
  });

  it("an agent that cannot run fails the task at once, with nothing to abort", () => {
    const error = { code: "agent_not_found", message: "no agent 'hello'", retryable: false };
    const d = decideSubmit(null, submit({ notify: undefined, executor: { type: "local" } }), { error }, ctx);
    expect(d.next).toEqual(taskRecord("failed", { metadata: { k: "v" }, error, updated_at: NOW, finished_at: NOW }));
    expect(d.effects).toEqual([
      { type: "log", level: "debug", fields: { task_id: ID, status: "failed" }, msg: "task created" },
      { type: "note", task: d.next },
      status(d.next as TaskRecord, { status: "failed", attempt: 1, error }, `${ID}:s:failed`),
      counted("failed"),
    ]);
  });

  it("a redelivered submit changes nothing and repeats the task's effects, then tells the gateway", () => {
    const existing = running();
    const d = decideSubmit(existing, submit(), null, ctx);
    expect(d.next).toBeNull();
    expect(d.effects).toEqual([
      ...effectsOf(existing, { now: NOW_MS }),
      { type: "notify", subject: "_INBOX.gw", msg: { v: 1, task_id: ID, submitted_task_id: ID, status: "running", agent: "hello" } },
    ]);
  });

  it("a new task without its plan is a bug, not a decision", () => {
    expect(() => decideSubmit(null, submit(), null, ctx)).toThrow(/compiled plan/);
  });

  it("a duplicate idempotency key: dropped, and the gateway hears of the earlier task", () => {
    const earlier = running({ id: "01a201a7-0000-72ff-9d64-122373e39111" });
    const d = decideDuplicateSubmit(earlier, submit({ idempotency_key: "k1" }), earlier.id);
    expect(d).toEqual({
      next: null,
      reply: undefined,
      effects: [
        { type: "log", level: "info", fields: { task_id: earlier.id, dropped_task_id: ID }, msg: "duplicate submit (idempotency key) dropped" },
        { type: "notify", subject: "_INBOX.gw", msg: { v: 1, task_id: earlier.id, submitted_task_id: ID, status: "running", agent: "hello" } },
      ],
    });
    expect(decideDuplicateSubmit(null, submit({ notify: undefined }), earlier.id).effects).toHaveLength(1);
  });
});

// ---- claims ----

const claim = (over: Partial<{ attempt: number; node_id: string }> = {}) => ({ v: 1 as const, task_id: ID, attempt: 1, node_id: "node-a", ...over });
const refusedCount = (reason: string): Effect => ({ type: "count", metric: "claimsRefused", labels: { reason } });

describe("decideClaim", () => {
  it("grants the current attempt with a fresh run id, observes the queue wait, and announces it", () => {
    const queued = taskRecord("queued", { plan, updated_at: STARTED, checkpoint: checkpoint(2) });
    const d = decideClaim(queued, claim(), ctx);
    const next = { ...queued, status: "running" as const, run_id: "run-new", node_id: "node-a", started_at: NOW, updated_at: NOW, not_before: null };
    expect(d.next).toEqual(next);
    expect(d.effects).toEqual([
      { type: "observe", metric: "queueWait", labels: { kind: "local" }, seconds: 30 },
      { type: "note", task: next },
      status(next, { status: "running", attempt: 1 }, `${ID}:s:running:1`),
      counted("running"),
    ]);
    expect(d.reply).toEqual({
      v: 1,
      granted: true,
      task_id: ID,
      run_id: "run-new",
      attempt: 1,
      tenant: "acme",
      agent: "hello",
      input: "hi",
      plan,
      checkpoint: checkpoint(2),
      usage: usage(0),
      resume: null,
      created_at: queued.created_at,
    });
  });

  it("a resumed attempt gets the answered round to run first", () => {
    const pending = pendingRound([answered(approvalCall("c1"))], 3);
    const queued = taskRecord("queued", { plan, attempt: 2, resumes: 1, run_id: "run-1", checkpoint: checkpoint(2), pending });
    expect(decideClaim(queued, claim({ attempt: 2 }), ctx).reply).toMatchObject({ granted: true, attempt: 2, run_id: "run-new", resume: pending });
    // Once a checkpoint has reached the round, there is nothing to resume.
    const past = { ...queued, checkpoint: checkpoint(3) };
    expect(decideClaim(past, claim({ attempt: 2 }), ctx).reply).toMatchObject({ granted: true, resume: null });
  });

  it("the same node asking again for its attempt (a lost reply) gets the same run and its effects again", () => {
    const t = running();
    const d = decideClaim(t, claim(), ctx);
    expect(d.next).toBeNull();
    expect(d.effects).toEqual(effectsOf(t, { now: NOW_MS }));
    expect(d.reply).toMatchObject({ granted: true, run_id: "run-1" });
  });

  it("refusals: no such task, terminal, stale attempt, claimed elsewhere (no index to heal: the record is the reaper's view)", () => {
    expect(decideClaim(null, claim(), ctx)).toEqual({
      next: null,
      effects: [refusedCount("not_found")],
      reply: { v: 1, granted: false, task_id: ID, reason: "not_found", message: "no such task" },
    });
    expect(decideClaim(running({ status: "canceled" }), claim(), ctx)).toEqual({
      next: null,
      effects: [refusedCount("terminal")],
      reply: { v: 1, granted: false, task_id: ID, reason: "terminal", message: "task is canceled" },
    });
    expect(decideClaim(taskRecord("queued", { attempt: 2 }), claim(), ctx)).toEqual({
      next: null,
      effects: [refusedCount("stale_attempt")],
      reply: { v: 1, granted: false, task_id: ID, reason: "stale_attempt", message: "attempt 1 is stale; current is 2" },
    });
    const elsewhere = running({ node_id: "node-b" });
    expect(decideClaim(elsewhere, claim(), ctx)).toEqual({
      next: null,
      effects: [refusedCount("already_claimed")],
      reply: { v: 1, granted: false, task_id: ID, reason: "already_claimed", message: "task is running on node-b" },
    });
    expect(decideClaim(running({ node_id: "node-b", attempt: 2 }), claim(), ctx).effects).toEqual([refusedCount("stale_attempt")]);
  });

  it("a retry is not granted before its not_before", () => {
    const waiting = taskRecord("queued", { plan, not_before: at(1) });
    expect(decideClaim(waiting, claim(), ctx)).toEqual({
      next: null,
      effects: [refusedCount("already_claimed")],
      reply: { v: 1, granted: false, task_id: ID, reason: "already_claimed", message: "task is queued on no node" },
    });
    expect(decideClaim({ ...waiting, not_before: NOW }, claim(), ctx).reply.granted).toBe(true);
  });
});

// ---- run reports ----

const ref = (over: Partial<{ run_id: string; attempt: number }> = {}) => ({ v: 1 as const, task_id: ID, run_id: "run-1", attempt: 1, ...over });
const fenced = (report: string, runId: string, currentRunId: string | null, attempt: number): Effect[] => [
  { type: "count", metric: "fencedReports", labels: { report } },
  {
    type: "log",
    level: "warn",
    fields: { task_id: ID, run_id: runId, current_run_id: currentRunId, attempt, kind: report },
    msg: "fenced: report from a run that is not current",
  },
];

describe("decideCheckpoint", () => {
  it("stores the current run's checkpoint and usage; no effects while the task runs", () => {
    const t = running();
    const d = decideCheckpoint(t, { ...ref(), checkpoint: checkpoint(2, 40) }, ctx);
    expect(d).toEqual({ next: { ...t, checkpoint: checkpoint(2, 40), usage: usage(40), updated_at: NOW }, effects: [], reply: undefined });
  });

  it("a checkpoint past the parked round settles its calls into `answered` (args dropped); an earlier one keeps it", () => {
    const pending = pendingRound([answered(approvalCall("c1")), runCall("c2")], 2);
    const t = running({ attempt: 2, resumes: 1, pending });
    const past = decideCheckpoint(t, { ...ref({ attempt: 2 }), checkpoint: checkpoint(2) }, ctx).next;
    expect(past?.pending).toBeNull();
    expect(past?.answered).toEqual([{ ...answered(approvalCall("c1")), args: {} }]);
    const before = decideCheckpoint(t, { ...ref({ attempt: 2 }), checkpoint: checkpoint(1) }, ctx).next;
    expect(before?.pending).toEqual(pending);
    expect(before?.answered).toEqual([]);
  });

  it("fenced: a report from another run or attempt is counted, logged and dropped", () => {
    const t = running({ run_id: "run-2", attempt: 2 });
    expect(decideCheckpoint(t, { ...ref(), checkpoint: checkpoint(1) }, ctx)).toEqual({
      next: null,
      effects: fenced("checkpoint", "run-1", "run-2", 1),
      reply: undefined,
    });
  });

  it("a checkpoint after its run's outcome is dropped without effects (not fenced, not repeated)", () => {
    expect(decideCheckpoint(running({ status: "completed" }), { ...ref(), checkpoint: checkpoint(1) }, ctx)).toEqual({
      next: null,
      effects: [],
      reply: undefined,
    });
  });

  it("a report for a task that does not exist is logged", () => {
    expect(decideCheckpoint(null, { ...ref(), checkpoint: checkpoint(1) }, ctx).effects).toEqual([
      { type: "log", level: "warn", fields: { task_id: ID, run_id: "run-1", kind: "checkpoint" }, msg: "report for unknown task dropped" },
    ]);
  });

  it("a checkpoint the store could not hold (task_too_large) is announced and its run aborted", () => {
    const error = { code: "task_too_large", message: "too large", retryable: false };
    const tooLarge = (t: TaskRecord): TaskRecord => ({ ...t, status: "failed", checkpoint: null, error, finished_at: NOW });
    const d = decideCheckpoint(running(), { ...ref(), checkpoint: checkpoint(2) }, { ...ctx, fit: tooLarge });
    expect(d.next).toEqual({ ...running(), status: "failed", error, usage: usage(0), updated_at: NOW, finished_at: NOW });
    expect(d.effects).toEqual([
      { type: "note", task: d.next },
      status(d.next as TaskRecord, { status: "failed", attempt: 1, error }, `${ID}:s:failed`),
      abort("run-1", "too large"),
      counted("failed"),
      ran("failed", 30),
    ]);
  });

  it("a checkpoint redelivered after it ended the task (task_too_large; its kernel died before the effects) announces it and aborts the run again", () => {
    const error = { code: "task_too_large", message: "too large", retryable: false };
    const ended = running({ status: "failed", checkpoint: null, error, updated_at: NOW, finished_at: NOW });
    expect(decideCheckpoint(ended, { ...ref(), checkpoint: checkpoint(2) }, ctx)).toEqual({
      next: null,
      effects: [
        { type: "note", task: ended },
        status(ended, { status: "failed", attempt: 1, error }, `${ID}:s:failed`),
        abort("run-1", "too large"),
        counted("failed"),
        ran("failed", 30),
      ],
      reply: undefined,
    });
  });
});

describe("decideFinished", () => {
  const cmd = { ...ref(), result: { text: "done" }, usage: usage(7) };

  it("completes the task with its result; the run ended itself, so nothing is aborted", () => {
    const t = running({ error: { code: "runner_error", message: "earlier", retryable: true } });
    const d = decideFinished(t, cmd, ctx);
    const next = { ...t, status: "completed" as const, result: { text: "done" }, usage: usage(7), error: null, updated_at: NOW, finished_at: NOW };
    expect(d.next).toEqual(next);
    expect(d.effects).toEqual([
      { type: "note", task: next },
      status(next, { status: "completed", attempt: 1, result: { text: "done" } }, `${ID}:s:completed`),
      counted("completed"),
      ran("completed", 30),
    ]);
  });

  it("redelivered after it was applied: no change, the same effects again", () => {
    const done = decideFinished(running(), cmd, ctx).next as TaskRecord;
    const again = decideFinished(done, cmd, ctx);
    expect(again.next).toBeNull();
    expect(again.effects).toEqual(decideFinished(running(), cmd, ctx).effects);
  });

  it("a stale run's outcome is fenced and never completes the task", () => {
    const t = running({ run_id: "run-2", attempt: 2 });
    expect(decideFinished(t, cmd, ctx)).toEqual({ next: null, effects: fenced("finished", "run-1", "run-2", 1), reply: undefined });
    // Same run id, older attempt (a run that was re-dispatched twice): fenced as well.
    const t3 = running({ attempt: 3 });
    expect(decideFinished(t3, cmd, ctx)).toEqual({ next: null, effects: fenced("finished", "run-1", "run-1", 1), reply: undefined });
  });

  it("the store's version of the record is what the effects announce (a result too large)", () => {
    const error = { code: "task_too_large", message: "too large", retryable: false };
    const d = decideFinished(running(), cmd, { ...ctx, fit: (t) => ({ ...t, status: "failed", result: null, error }) });
    expect(d.next).toMatchObject({ status: "failed", result: null, error });
    expect(d.effects[1]).toEqual(status(d.next as TaskRecord, { status: "failed", attempt: 1, error }, `${ID}:s:failed`));
    expect(d.effects.some((e) => e.type === "abort")).toBe(false);
  });
});

describe("decideFailed", () => {
  const error = { code: "runner_error", message: "boom", retryable: true };
  const cmd = (over: Partial<{ not_before: string; error: typeof error }> = {}) => ({ ...ref(), error, usage: usage(5), ...over });

  it("retries a retryable failure as attempt + 1 after the jittered backoff, held back by a dispatch-due command", () => {
    const d = decideFailed(running(), cmd(), ctx);
    // initial 1000 ms, attempt 1: half fixed, half jittered (random 0.5) → 750 ms.
    const next = { ...running(), status: "queued" as const, attempt: 2, error, usage: usage(5), not_before: at(750), updated_at: NOW };
    expect(d.next).toEqual(next);
    expect(d.effects).toEqual([
      { type: "note", task: next },
      status(next, { status: "queued", attempt: 2, error }, `${ID}:s:queued:2`),
      { type: "dispatch-due", cmd: { v: 1, task_id: ID, attempt: 2, due_at: at(750) }, msgId: `${ID}:d:2` },
      counted("queued"),
    ]);
  });

  it("the jitter comes from ctx.random", () => {
    expect(decideFailed(running(), cmd(), { ...ctx, random: () => 0 }).next?.not_before).toBe(at(500));
    expect(decideFailed(running(), cmd(), { ...ctx, random: () => 1 }).next?.not_before).toBe(at(1000));
  });

  it("a provider's Retry-After (not_before) later than the backoff is the next attempt's earliest start; an earlier one is ignored", () => {
    expect(decideFailed(running(), cmd({ not_before: at(20_000) }), ctx).next?.not_before).toBe(at(20_000));
    expect(decideFailed(running(), cmd({ not_before: at(100) }), ctx).next?.not_before).toBe(at(750));
  });

  it("fails at max_attempts; resumes and hand-backs do not count as failures", () => {
    const last = running({ attempt: 3 });
    const d = decideFailed(last, { ...cmd(), attempt: 3 }, ctx);
    const next = { ...last, status: "failed" as const, error, usage: usage(5), updated_at: NOW, finished_at: NOW };
    expect(d.next).toEqual(next);
    expect(d.effects).toEqual([
      { type: "note", task: next },
      status(next, { status: "failed", attempt: 3, error }, `${ID}:s:failed`),
      counted("failed"),
      ran("failed", 30),
    ]);
    const resumedOnce = running({ attempt: 3, resumes: 1 });
    expect(decideFailed(resumedOnce, { ...cmd(), attempt: 3 }, ctx).next).toMatchObject({ status: "queued", attempt: 4 });
  });

  it("a failure that ends the task settles a parked round still on record; a retry keeps it", () => {
    const fatal = { code: "budget_exceeded", message: "over", retryable: false };
    const pending = pendingRound([answered(approvalCall("c1"))], 2);
    const t = running({ attempt: 2, resumes: 1, pending });
    const d = decideFailed(t, { ...cmd({ error: fatal }), attempt: 2 }, ctx);
    expect(d.next).toMatchObject({ status: "failed", pending: null });
    expect(d.next?.answered.map((c) => c.call_id)).toEqual(["c1"]);
    expect(decideFailed(t, { ...cmd(), attempt: 2 }, ctx).next).toMatchObject({ status: "queued", pending });
  });

  it("a non-retryable error, or a task without a retry policy, fails at once", () => {
    const fatal = { code: "model_error", message: "bad request", retryable: false };
    expect(decideFailed(running(), cmd({ error: fatal }), ctx).next).toMatchObject({ status: "failed", attempt: 1, error: fatal });
    expect(decideFailed(running({ plan: null }), cmd(), ctx).next).toMatchObject({ status: "failed", error });
  });

  it("redelivered after the retry was decided (the record is at attempt + 1): repeats the retry's effects", () => {
    const retried = decideFailed(running(), cmd(), ctx).next as TaskRecord;
    const again = decideFailed(retried, cmd(), ctx);
    expect(again.next).toBeNull();
    expect(again.effects).toEqual(effectsOf(retried, { now: NOW_MS, runEnded: true }));
    expect(again.effects[2]).toMatchObject({ type: "dispatch-due" });
  });
});

describe("decideReleased", () => {
  it("a hand-back is re-dispatched at once as attempt + 1, counted as a resume, not a failure", () => {
    const t = running({ not_before: null });
    const d = decideReleased(t, { ...ref(), reason: "draining" }, ctx);
    const error = { code: "runner_released", message: "handed back by its runner: draining", retryable: true };
    const next = { ...t, status: "queued" as const, attempt: 2, resumes: 1, error, updated_at: NOW };
    expect(d.next).toEqual(next);
    expect(d.effects).toEqual([
      { type: "note", task: next },
      status(next, { status: "queued", attempt: 2, error }, `${ID}:s:queued:2`),
      work(2),
      counted("queued"),
    ]);
  });
});

// ---- cancel ----

describe("decideCancel", () => {
  it("a queued task is canceled at once: nothing to abort", () => {
    const t = taskRecord("queued", { plan });
    const d = decideCancel(t, { v: 1, task_id: ID }, ctx);
    const error = { code: "canceled", message: "canceled by request", retryable: false };
    const next = { ...t, status: "canceled" as const, error, updated_at: NOW, finished_at: NOW };
    expect(d).toEqual({
      next,
      effects: [{ type: "note", task: next }, status(next, { status: "canceled", attempt: 1, error }, `${ID}:s:canceled`), counted("canceled")],
      reply: "done",
    });
  });

  it("a running task is canceled and its run aborted with the reason", () => {
    const d = decideCancel(running(), { v: 1, task_id: ID, reason: "user asked" }, ctx);
    expect(d.next).toMatchObject({ status: "canceled", error: { code: "canceled", message: "user asked", retryable: false } });
    expect(d.effects.filter((e) => e.type === "abort")).toEqual([abort("run-1", "user asked")]);
  });

  it("a canceled task repeats its effects (a redelivery); a completed one is left alone", () => {
    const canceled = decideCancel(running(), { v: 1, task_id: ID }, ctx).next as TaskRecord;
    expect(decideCancel(canceled, { v: 1, task_id: ID }, ctx)).toEqual({ next: null, effects: effectsOf(canceled, { now: NOW_MS }), reply: "done" });
    expect(decideCancel(running({ status: "completed" }), { v: 1, task_id: ID }, ctx)).toEqual({ next: null, effects: [], reply: "done" });
  });

  it("a task not created yet: retried later", () => {
    expect(decideCancel(null, { v: 1, task_id: ID }, ctx)).toEqual({ next: null, effects: [], reply: "task_not_created" });
  });
});

describe("decideDispatchDue", () => {
  it("sends the work item only while the task waits for that attempt", () => {
    const t = taskRecord("queued", { plan, attempt: 2 });
    expect(decideDispatchDue(t, { v: 1, task_id: ID, attempt: 2, due_at: T0 }).effects).toEqual([work(2)]);
    expect(decideDispatchDue(t, { v: 1, task_id: ID, attempt: 1, due_at: T0 }).effects).toEqual([]);
    expect(decideDispatchDue(running({ attempt: 2 }), { v: 1, task_id: ID, attempt: 2, due_at: T0 }).effects).toEqual([]);
    expect(decideDispatchDue(null, { v: 1, task_id: ID, attempt: 2, due_at: T0 }).effects).toEqual([]);
  });
});

// ---- the round check ----

const round = (over: Partial<RoundReport> = {}): RoundReport => ({
  ...ref(),
  round: 1,
  usage: usage(10),
  calls: [],
  checkpoint: checkpoint(1, 10),
  can_park: true,
  ...over,
});
const roundCount = (verdict: string): Effect => ({ type: "count", metric: "rounds", labels: { verdict } });
const charge = { call_id: "c1", tool: "payments.charge", args: { amount: 5 } };
const lookup = { call_id: "c2", tool: "lookup", args: { q: "x" } };
const echo = { call_id: "c3", tool: "echo", args: {} };

describe("decideRound", () => {
  it("proceed: no calls, or only calls that need nothing; no change, no effects but the count", () => {
    expect(decideRound(running(), round(), ctx)).toEqual({ next: null, effects: [roundCount("proceed")], reply: { v: 1, verdict: "proceed" } });
    // A tool the agent does not have fails on its runner: nothing to approve.
    const d = decideRound(running(), round({ calls: [echo, { call_id: "c4", tool: "payments_unknown", args: {} }] }), ctx);
    expect(d).toEqual({ next: null, effects: [roundCount("proceed")], reply: { v: 1, verdict: "proceed" } });
  });

  it("parks on an approval and an external call: checkpoint, pending round, run slot freed, approval.requested", () => {
    const t = running();
    const d = decideRound(t, round({ round: 2, calls: [charge, lookup, echo], checkpoint: checkpoint(2, 10) }), ctx);
    const pending: PendingRound = {
      round: 2,
      run_id: "run-1",
      attempt: 1,
      parked_at: NOW,
      calls: [
        { ...charge, kind: "approval", reason: "tool 'payments.charge' matches 'payments.*'", expires_at: at(60_000), answer: null },
        { ...lookup, kind: "external", expires_at: null, answer: null },
        { ...echo, kind: "run", expires_at: null, answer: null },
      ],
    };
    const next = { ...t, status: "input_required" as const, pending, checkpoint: checkpoint(2, 10), usage: usage(10), node_id: null, updated_at: NOW };
    expect(d.reply).toEqual({ v: 1, verdict: "park", waiting: ["c1", "c2"] });
    expect(d.next).toEqual(next);
    expect(d.effects).toEqual([
      roundCount("park"),
      { type: "log", level: "info", fields: { task_id: ID, run_id: "run-1", waiting: ["c1", "c2"] }, msg: "task parked: waiting for answers" },
      ...effectsOf(next, { now: NOW_MS }),
      {
        type: "event",
        target,
        run_id: "run-1",
        attempt: 1,
        event: "approval.requested",
        msgId: `${ID}:ar:1:c1`,
        data: {
          round: 2,
          call_id: "c1",
          tool: "payments.charge",
          args: { amount: 5 },
          reason: "tool 'payments.charge' matches 'payments.*'",
          expires_at: at(60_000),
        },
      },
    ]);
  });

  it("a park without a checkpoint keeps the last one; an approval without timeout never expires", () => {
    const t = running({ checkpoint: checkpoint(1), plan: { ...plan, approval: { policy: "always" } } });
    const next = decideRound(t, round({ calls: [charge], checkpoint: null }), ctx).next;
    expect(next?.checkpoint).toEqual(checkpoint(1));
    expect(next?.pending?.calls[0]).toEqual({
      ...charge,
      kind: "approval",
      reason: "every tool call of this agent needs approval",
      expires_at: null,
      answer: null,
    });
  });

  it("a repeat of the round that parked the task gets park again and repeats the park's effects", () => {
    const parked = decideRound(running(), round({ calls: [charge] }), ctx).next as TaskRecord;
    const d = decideRound(parked, round({ calls: [charge] }), ctx);
    expect(d.next).toBeNull();
    expect(d.reply).toEqual({ v: 1, verdict: "park", waiting: ["c1"] });
    expect(d.effects).toEqual([
      roundCount("park"),
      ...effectsOf(parked, { now: NOW_MS }),
      expect.objectContaining({ event: "approval.requested", msgId: `${ID}:ar:1:c1` }),
    ]);
  });

  it("fencing: another run, another attempt, a task not running, no such task", () => {
    expect(decideRound(running({ run_id: "run-2" }), round(), ctx)).toEqual({
      next: null,
      effects: [roundCount("stop")],
      reply: { v: 1, verdict: "stop", reason: "fenced", message: "run run-1 is not the task's current run" },
    });
    expect(decideRound(running({ attempt: 2 }), round(), ctx).reply).toMatchObject({ verdict: "stop", reason: "fenced" });
    expect(decideRound(running({ status: "canceled" }), round(), ctx).reply).toEqual({
      v: 1,
      verdict: "stop",
      reason: "terminal",
      message: "task is canceled",
    });
    expect(decideRound(running({ status: "queued" }), round(), ctx).reply).toEqual({ v: 1, verdict: "stop", reason: "fenced", message: "task is queued" });
    // A parked task asked about another round of its parking run: not that park, so fenced.
    const parked = decideRound(running(), round({ calls: [charge] }), ctx).next as TaskRecord;
    expect(decideRound(parked, round({ round: 2 }), ctx).reply).toEqual({ v: 1, verdict: "stop", reason: "fenced", message: "task is input_required" });
    expect(decideRound(null, round(), ctx)).toEqual({ next: null, effects: [], reply: { v: 1, verdict: "stop", reason: "fenced", message: "no such task" } });
  });

  it("budgets: max_tokens fails the task, announces it and aborts nothing but the run", () => {
    const t = running({ plan: { ...plan, limits: { max_rounds: 16, max_tokens: 100 } } });
    const d = decideRound(t, round({ usage: usage(101) }), ctx);
    const error = {
      code: "budget_exceeded",
      message: "used 101 tokens, more than max_tokens 100",
      retryable: false,
      details: { budget: "max_tokens", limit: 100, used: 101 },
    };
    const next = { ...t, status: "failed" as const, error, usage: usage(101), updated_at: NOW, finished_at: NOW };
    expect(d.reply).toEqual({ v: 1, verdict: "stop", reason: "budget_exceeded", message: error.message });
    expect(d.next).toEqual(next);
    expect(d.effects).toEqual([
      roundCount("stop"),
      { type: "log", level: "info", fields: { task_id: ID, error }, msg: "task ended by its round check" },
      { type: "note", task: next },
      status(next, { status: "failed", attempt: 1, error }, `${ID}:s:failed`),
      abort("run-1", error.message),
      counted("failed"),
      ran("failed", 30),
    ]);
  });

  it("a round whose check ended the task, asked again (its kernel died before the effects): stop, and the terminal effects again, the run told by the verdict", () => {
    const t = running({ plan: { ...plan, limits: { max_rounds: 16, max_tokens: 100 } } });
    const ended = decideRound(t, round({ usage: usage(101) }), ctx).next as TaskRecord;
    const error = ended.error as NonNullable<TaskRecord["error"]>;
    expect(decideRound(ended, round({ usage: usage(101) }), ctx)).toEqual({
      next: null,
      effects: [
        roundCount("stop"),
        { type: "note", task: ended },
        status(ended, { status: "failed", attempt: 1, error }, `${ID}:s:failed`),
        counted("failed"),
        ran("failed", 30),
      ],
      reply: { v: 1, verdict: "stop", reason: "terminal", message: "task is failed" },
    });
    // A stale run asking about a finished task is only fenced: nothing is repeated for it.
    expect(decideRound(ended, round({ run_id: "run-0" }), ctx).effects).toEqual([roundCount("stop")]);
  });

  it("budgets: tool calls in the last allowed round, and the deadline", () => {
    const rounds = running({ plan: { ...plan, limits: { max_rounds: 2 } } });
    expect(decideRound(rounds, round({ round: 2, calls: [echo] }), ctx).next?.error?.details).toEqual({ budget: "max_rounds", limit: 2, used: 2 });
    expect(decideRound(rounds, round({ round: 2 }), ctx).reply).toEqual({ v: 1, verdict: "proceed" });
    const deadline = running({ plan: { ...plan, limits: { max_rounds: 16, deadline_ms: 59_999 } } });
    expect(decideRound(deadline, round(), ctx).next?.error?.details).toEqual({ budget: "deadline", limit: 59_999, used: 60_000 });
    expect(decideRound({ ...deadline, plan: { ...plan, limits: { max_rounds: 16, deadline_ms: 60_000 } } }, round(), ctx).reply.verdict).toBe("proceed");
  });

  it("a run that cannot park fails the task with parking_unsupported instead of running the call unanswered", () => {
    const t = running({ pending: null });
    const d = decideRound(t, round({ calls: [charge, lookup], can_park: false }), ctx);
    const message = "runner kind 'local' cannot wait for answers, but payments.charge (c1) needs approval, lookup (c2) needs an external result";
    expect(d.reply).toEqual({ v: 1, verdict: "stop", reason: "terminal", message });
    expect(d.next).toEqual({
      ...t,
      status: "failed",
      error: { code: "parking_unsupported", message, retryable: false },
      usage: usage(10),
      updated_at: NOW,
      finished_at: NOW,
    });
    expect(d.effects[0]).toEqual(roundCount("stop"));
    expect(d.effects).toContainEqual(abort("run-1", message));
  });
});

// ---- answers ----

function approvalCall(id: string, expiresAt: string | null = at(60_000)): PendingCall {
  return {
    call_id: id,
    tool: "payments.charge",
    args: { amount: 5 },
    kind: "approval",
    reason: "tool 'payments.charge' matches 'payments.*'",
    expires_at: expiresAt,
    answer: null,
  };
}
function externalCall(id: string): PendingCall {
  return { call_id: id, tool: "lookup", args: { q: "x" }, kind: "external", expires_at: null, answer: null };
}
function runCall(id: string): PendingCall {
  return { call_id: id, tool: "echo", args: {}, kind: "run", expires_at: null, answer: null };
}
function answered(c: PendingCall): PendingCall {
  return { ...c, answer: { type: "approval", decision: "approve", by: "client", answer_id: `a-${c.call_id}`, decided_at: T0 } };
}
function pendingRound(calls: PendingCall[], n = 1): PendingRound {
  return { round: n, run_id: "run-1", attempt: 1, parked_at: T0, calls };
}
function checkpoint(n: number, tokens = 0): Checkpoint {
  return { round: n, messages: [{ role: "user", content: "hi" }], usage: usage(tokens) };
}
/** A task parked by run-1 in round 1, waiting for the given calls. */
const parked = (calls: PendingCall[], over: Partial<TaskRecord> = {}) =>
  running({ status: "input_required", node_id: null, checkpoint: checkpoint(1), pending: pendingRound(calls), ...over });

const approve = (callId: string, answerId = "ans-1", over: Partial<AnswerCall> = {}): AnswerCall => ({
  v: 1,
  task_id: ID,
  answer_id: answerId,
  call_id: callId,
  answer: { type: "approval", decision: "approve", reason: "fine" },
  notify: "_INBOX.ans",
  ...over,
});
const decided = (callId: string, decision: string, by: string, reason?: string): Effect => ({
  type: "event",
  target,
  run_id: "run-1",
  attempt: 1,
  event: "approval.decided",
  msgId: `${ID}:ad:1:${callId}`,
  data: { round: 1, call_id: callId, tool: "payments.charge", decision, ...(reason ? { reason } : {}), by },
});
const notify = (reply: object): Effect => ({ type: "notify", subject: "_INBOX.ans", msg: expect.objectContaining(reply) });

describe("decideAnswer", () => {
  it("accepted, others still waiting: the answer is recorded, approval.decided goes out, the tenant index notes it", () => {
    const t = parked([approvalCall("c1"), externalCall("c2")]);
    const d = decideAnswer(t, approve("c1"), ctx);
    const answer = { type: "approval" as const, decision: "approve" as const, reason: "fine", by: "client" as const, answer_id: "ans-1", decided_at: NOW };
    const next = { ...t, pending: pendingRound([{ ...approvalCall("c1"), answer }, externalCall("c2")]), updated_at: NOW };
    expect(d.next).toEqual(next);
    expect(d.reply).toEqual({
      v: 1,
      answer_id: "ans-1",
      task_id: ID,
      call_id: "c1",
      outcome: "accepted",
      message: "answer recorded",
      task_status: "input_required",
      waiting: ["c2"],
    });
    expect(d.effects).toEqual([
      decided("c1", "approve", "client", "fine"),
      { type: "note", task: next },
      { type: "notify", subject: "_INBOX.ans", msg: d.reply },
    ]);
  });

  it("the last answer resumes the task: queued as attempt + 1, a resume not a failure, dispatched, then the reply", () => {
    const t = parked([externalCall("c2"), runCall("c3")]);
    const d = decideAnswer(t, approve("c2", "ans-2", { answer: { type: "tool_result", result: { ok: true } } }), ctx);
    const answer = { type: "tool_result" as const, result: { ok: true }, answer_id: "ans-2", decided_at: NOW };
    const next = {
      ...t,
      status: "queued" as const,
      attempt: 2,
      resumes: 1,
      error: null,
      not_before: null,
      pending: pendingRound([{ ...externalCall("c2"), answer }, runCall("c3")]),
      updated_at: NOW,
    };
    expect(d.next).toEqual(next);
    expect(d.reply).toMatchObject({ outcome: "accepted", task_status: "queued", waiting: [] });
    expect(d.effects).toEqual([
      { type: "log", level: "info", fields: { task_id: ID, attempt: 2 }, msg: "task resumed: every waiting call is answered" },
      { type: "note", task: next },
      status(next, { status: "queued", attempt: 2, reason: "resumed: every waiting call is answered" }, `${ID}:s:queued:2`),
      work(2),
      counted("queued"),
      { type: "notify", subject: "_INBOX.ans", msg: d.reply },
    ]);
  });

  it("a tool error is an answer too", () => {
    const d = decideAnswer(
      parked([externalCall("c2")]),
      approve("c2", "ans-2", { answer: { type: "tool_error", error: { code: "nope", message: "down" } } }),
      ctx,
    );
    expect(d.next?.pending?.calls[0]?.answer).toEqual({ type: "tool_error", error: { code: "nope", message: "down" }, answer_id: "ans-2", decided_at: NOW });
  });

  it("the same answer redelivered: accepted again, its effects repeated while they may be missing", () => {
    const once = decideAnswer(parked([approvalCall("c1"), externalCall("c2")]), approve("c1"), ctx);
    const still = once.next as TaskRecord;
    const again = decideAnswer(still, approve("c1"), ctx);
    expect(again.next).toBeNull();
    expect(again.reply).toEqual(once.reply);
    expect(again.effects).toEqual(once.effects);
    // Resumed already: the resume's effects again.
    const resumedOnce = decideAnswer(parked([approvalCall("c1")]), approve("c1"), ctx);
    const resumedAgain = decideAnswer(resumedOnce.next as TaskRecord, approve("c1"), ctx);
    expect(resumedAgain.next).toBeNull();
    expect(resumedAgain.effects).toEqual(resumedOnce.effects);
    // Running again (the effects evidently went out): the reply only.
    const runningAgain = { ...(resumedOnce.next as TaskRecord), status: "running" as const };
    expect(decideAnswer(runningAgain, approve("c1"), ctx).effects).toEqual([notify({ outcome: "accepted", task_status: "running" })]);
  });

  it("already_decided: another answer to an answered call gets the one that stands, also once settled", () => {
    const t = parked([answered(approvalCall("c1")), externalCall("c2")]);
    const d = decideAnswer(t, approve("c1", "ans-9"), ctx);
    expect(d.next).toBeNull();
    expect(d.reply).toEqual({
      v: 1,
      answer_id: "ans-9",
      task_id: ID,
      call_id: "c1",
      outcome: "already_decided",
      message: "call c1 was already answered; the first answer stands",
      standing: answered(approvalCall("c1")).answer,
      task_status: "input_required",
      waiting: ["c2"],
    });
    expect(d.effects).toEqual([{ type: "notify", subject: "_INBOX.ans", msg: d.reply }]);
    const settled = running({ answered: [{ ...answered(approvalCall("c1")), args: {} }] });
    expect(decideAnswer(settled, approve("c1", "ans-9"), ctx).reply).toMatchObject({ outcome: "already_decided", task_status: "running", waiting: [] });
  });

  it("task_not_waiting, call_not_found, no such task", () => {
    expect(decideAnswer(running(), approve("c1"), ctx).reply).toMatchObject({
      outcome: "task_not_waiting",
      message: "task is running, not waiting for an answer",
      task_status: "running",
    });
    expect(decideAnswer(parked([approvalCall("c1")]), approve("zz"), ctx).reply).toMatchObject({
      outcome: "call_not_found",
      message: "task is not waiting for call 'zz'",
      waiting: ["c1"],
    });
    expect(decideAnswer(null, approve("c1"), ctx)).toEqual({
      next: null,
      effects: [notify({ outcome: "call_not_found" })],
      reply: { v: 1, answer_id: "ans-1", task_id: ID, call_id: "c1", outcome: "call_not_found", message: "no such task", task_status: "queued", waiting: [] },
    });
  });

  it("wrong_kind: a result for an approval, a decision for an external tool, any answer for a call that needs none", () => {
    const t = parked([approvalCall("c1"), externalCall("c2"), runCall("c3")]);
    expect(decideAnswer(t, approve("c1", "x", { answer: { type: "tool_result", result: {} } }), ctx).reply).toMatchObject({
      outcome: "wrong_kind",
      message: "call c1 waits for an approval (POST /approvals)",
    });
    expect(decideAnswer(t, approve("c2"), ctx).reply).toMatchObject({ outcome: "wrong_kind", message: "call c2 waits for a tool result (POST /tool-results)" });
    expect(decideAnswer(t, approve("c3"), ctx)).toMatchObject({ next: null, reply: { outcome: "wrong_kind", message: "call c3 needs no answer" } });
  });

  it("invalid_result: a result that does not match the tool's returns schema is refused with the mismatches", () => {
    const d = decideAnswer(parked([externalCall("c2")]), approve("c2", "x", { answer: { type: "tool_result", result: { ok: "yes" } } }), ctx);
    expect(d.next).toBeNull();
    expect(d.reply).toMatchObject({
      outcome: "invalid_result",
      message: "result does not match the returns schema of 'lookup': result.ok must be boolean",
      details: [{ path: "result.ok", message: "must be boolean" }],
    });
  });

  it("no notify subject: no reply message", () => {
    expect(decideAnswer(parked([approvalCall("c1"), externalCall("c2")]), approve("c1", "a", { notify: undefined }), ctx).effects.map((e) => e.type)).toEqual([
      "event",
      "note",
    ]);
  });
});

describe("decideApprovalsTimedOut", () => {
  const rejectedBy = (callId: string) => ({
    type: "approval" as const,
    decision: "reject" as const,
    reason: "no decision within 60000 ms",
    by: "timeout" as const,
    answer_id: `timeout:${callId}`,
    decided_at: NOW,
  });

  it("rejects the expired approvals (the model is told); others keep waiting", () => {
    const t = parked([approvalCall("c1", NOW), approvalCall("c2", at(1))]);
    const d = decideApprovalsTimedOut(t, ID, ctx);
    const next = { ...t, pending: pendingRound([{ ...approvalCall("c1", NOW), answer: rejectedBy("c1") }, approvalCall("c2", at(1))]), updated_at: NOW };
    expect(d).toEqual({
      next,
      effects: [
        { type: "log", level: "info", fields: { task_id: ID, calls: ["c1"], status: "input_required" }, msg: "approval timed out" },
        decided("c1", "reject", "timeout", "no decision within 60000 ms"),
        { type: "note", task: next },
      ],
      reply: true,
    });
  });

  it("when none is left waiting, the task resumes", () => {
    const d = decideApprovalsTimedOut(parked([approvalCall("c1", NOW)]), ID, ctx);
    expect(d.next).toMatchObject({ status: "queued", attempt: 2, resumes: 1 });
    expect(d.effects.map((e) => (e.type === "event" ? e.event : e.type))).toEqual(["log", "approval.decided", "log", "note", "status", "work", "count"]);
  });

  it("on_timeout fail: the task fails with approval_timeout, and the parked run's id gets the abort", () => {
    const t = parked([approvalCall("c1", NOW)], {
      plan: { ...plan, approval: { policy: "pattern", tools: ["payments.*"], timeout_ms: 60_000, on_timeout: "fail" } },
    });
    const d = decideApprovalsTimedOut(t, ID, ctx);
    const error = { code: "approval_timeout", message: "no approval within 60000 ms for payments.charge (c1)", retryable: false };
    const next = {
      ...t,
      status: "failed" as const,
      error,
      pending: pendingRound([{ ...approvalCall("c1", NOW), answer: rejectedBy("c1") }]),
      updated_at: NOW,
      finished_at: NOW,
    };
    expect(d.next).toEqual(next);
    expect(d.effects).toEqual([
      { type: "log", level: "info", fields: { task_id: ID, calls: ["c1"], status: "failed" }, msg: "approval timed out" },
      decided("c1", "reject", "timeout", "no decision within 60000 ms"),
      { type: "note", task: next },
      status(next, { status: "failed", attempt: 1, error }, `${ID}:s:failed`),
      abort("run-1", error.message),
      counted("failed"),
      ran("failed", 30),
    ]);
  });

  it("redelivered after on_timeout fail failed the task: approval.decided and the end go out again", () => {
    const t = parked([approvalCall("c1", NOW)], {
      plan: { ...plan, approval: { policy: "pattern", tools: ["payments.*"], timeout_ms: 60_000, on_timeout: "fail" } },
    });
    const first = decideApprovalsTimedOut(t, ID, ctx);
    const again = decideApprovalsTimedOut(first.next, ID, ctx);
    expect(again.next).toBeNull();
    expect(again.effects).toEqual(first.effects.filter((e) => e.type !== "log"));
  });

  it("nothing expired, not parked, gone: no change; a finished task's effects are settled", () => {
    expect(decideApprovalsTimedOut(parked([approvalCall("c1", at(1)), approvalCall("c2", null)]), ID, ctx)).toEqual({ next: null, effects: [], reply: false });
    expect(decideApprovalsTimedOut(running(), ID, ctx)).toEqual({ next: null, effects: [], reply: false });
    expect(decideApprovalsTimedOut(null, ID, ctx)).toEqual({ next: null, effects: [], reply: false });
    const done = running({ status: "completed", finished_at: NOW });
    expect(decideApprovalsTimedOut(done, ID, ctx)).toEqual({ next: null, effects: effectsOf(done, { now: NOW_MS, runEnded: true }), reply: false });
  });

  it("redelivered after it was applied (its kernel died before the effects): approval.decided and the resume go out again", () => {
    const stillParked = decideApprovalsTimedOut(parked([approvalCall("c1", NOW), approvalCall("c2", at(1))]), ID, ctx).next as TaskRecord;
    expect(decideApprovalsTimedOut(stillParked, ID, ctx)).toEqual({
      next: null,
      effects: [decided("c1", "reject", "timeout", "no decision within 60000 ms"), { type: "note", task: stillParked }],
      reply: false,
    });
    const resumed = decideApprovalsTimedOut(parked([approvalCall("c1", NOW)]), ID, ctx).next as TaskRecord;
    expect(decideApprovalsTimedOut(resumed, ID, ctx)).toEqual({
      next: null,
      effects: [
        decided("c1", "reject", "timeout", "no decision within 60000 ms"),
        { type: "log", level: "info", fields: { task_id: ID, attempt: 2 }, msg: "task resumed: every waiting call is answered" },
        { type: "note", task: resumed },
        status(resumed, { status: "queued", attempt: 2, reason: "resumed: every waiting call is answered" }, `${ID}:s:queued:2`),
        work(2),
        counted("queued"),
      ],
      reply: false,
    });
    // The resumed attempt runs: the effects evidently went out.
    expect(decideApprovalsTimedOut({ ...resumed, status: "running", run_id: "run-2" }, ID, ctx)).toEqual({ next: null, effects: [], reply: false });
  });
});

// ---- the reaper's decisions ----

describe("decideRunLost", () => {
  const error = { code: "runner_lost", message: "no lease from run run-1 on node-a: its runner died, was cut off, or never started the run", retryable: true };
  const lost = (next: TaskRecord): Effect => ({
    type: "log",
    level: "warn",
    fields: { task_id: ID, run_id: "run-1", node_id: "node-a", next: next.status, attempt: next.attempt },
    msg: "run lost: lease lapsed",
  });

  it("fences the run (abort, cause fenced) and re-dispatches from the checkpoint as attempt + 1 at once", () => {
    const t = running({ checkpoint: checkpoint(3), not_before: null });
    const d = decideRunLost(t, ID, "run-1", ctx);
    const next = { ...t, status: "queued" as const, attempt: 2, error, updated_at: NOW };
    expect(d).toEqual({
      next,
      effects: [
        lost(next),
        abort("run-1", "run fenced: lease lapsed", "fenced"),
        { type: "count", metric: "leasesLost", labels: {} },
        { type: "note", task: next },
        status(next, { status: "queued", attempt: 2, error }, `${ID}:s:queued:2`),
        work(2),
        counted("queued"),
      ],
      reply: true,
    });
  });

  it("fails when no attempt is left; the fenced abort is the only one", () => {
    const d = decideRunLost(running({ attempt: 3 }), ID, "run-1", ctx);
    const next = { ...running({ attempt: 3 }), status: "failed" as const, error, updated_at: NOW, finished_at: NOW };
    expect(d.next).toEqual(next);
    expect(d.effects).toEqual([
      lost(next),
      abort("run-1", "run fenced: lease lapsed", "fenced"),
      { type: "count", metric: "leasesLost", labels: {} },
      { type: "note", task: next },
      status(next, { status: "failed", attempt: 3, error }, `${ID}:s:failed`),
      counted("failed"),
      ran("failed", 30),
    ]);
  });

  it("another run is current, the task is gone, or it finished (perhaps by this verdict, redelivered): not acted on, a finish's effects repeated", () => {
    expect(decideRunLost(running({ run_id: "run-2" }), ID, "run-1", ctx)).toEqual({ next: null, effects: [], reply: false });
    expect(decideRunLost(null, ID, "run-1", ctx)).toEqual({ next: null, effects: [], reply: false });
    const done = running({ status: "completed", finished_at: NOW });
    expect(decideRunLost(done, ID, "run-1", ctx)).toEqual({ next: null, effects: effectsOf(done, { now: NOW_MS, runEnded: true }), reply: false });
  });

  it("redelivered after it re-queued the task (its kernel died before the effects): the fenced abort and the dispatch go out again", () => {
    const requeued = decideRunLost(running(), ID, "run-1", ctx).next as TaskRecord;
    expect(decideRunLost(requeued, ID, "run-1", ctx)).toEqual({
      next: null,
      effects: [
        abort("run-1", "run fenced: lease lapsed", "fenced"),
        { type: "note", task: requeued },
        status(requeued, { status: "queued", attempt: 2, error }, `${ID}:s:queued:2`),
        work(2),
        counted("queued"),
      ],
      reply: false,
    });
    // Claimed again since: the new run is not this verdict's.
    expect(decideRunLost({ ...requeued, status: "running", run_id: "run-2" }, ID, "run-1", ctx)).toEqual({ next: null, effects: [], reply: false });
  });

  it("redelivered after it failed the task: its terminal effects again, the run already fenced", () => {
    const failed = decideRunLost(running({ attempt: 3 }), ID, "run-1", ctx).next as TaskRecord;
    expect(decideRunLost(failed, ID, "run-1", ctx)).toEqual({
      next: null,
      effects: [
        { type: "note", task: failed },
        status(failed, { status: "failed", attempt: 3, error }, `${ID}:s:failed`),
        counted("failed"),
        ran("failed", 30),
      ],
      reply: false,
    });
  });
});

describe("decideDeadlineExceeded", () => {
  const withDeadline = (status: TaskRecord["status"], ms: number) => running({ status, plan: { ...plan, limits: { max_rounds: 16, deadline_ms: ms } } });

  it("fails a task past its deadline wherever it is, parked included, and aborts a run still going", () => {
    const t = withDeadline("input_required", 59_000);
    const d = decideDeadlineExceeded(t, ID, ctx);
    const error = {
      code: "budget_exceeded",
      message: "task passed its deadline of 59000 ms",
      retryable: false,
      details: { budget: "deadline", limit: 59_000, used: 60_000 },
    };
    const next = { ...t, status: "failed" as const, error, updated_at: NOW, finished_at: NOW };
    expect(d).toEqual({
      next,
      effects: [
        { type: "log", level: "info", fields: { task_id: ID }, msg: "deadline exceeded" },
        { type: "note", task: next },
        status(next, { status: "failed", attempt: 1, error }, `${ID}:s:failed`),
        abort("run-1", error.message),
        counted("failed"),
        ran("failed", 30),
      ],
      reply: true,
    });
  });

  it("redelivered after it failed the task (its kernel died before the effects): the effects, abort included, go out again", () => {
    const failed = decideDeadlineExceeded(withDeadline("running", 59_000), ID, ctx).next as TaskRecord;
    expect(decideDeadlineExceeded(failed, ID, ctx)).toEqual({ next: null, effects: effectsOf(failed, { now: NOW_MS }), reply: false });
    expect(effectsOf(failed, { now: NOW_MS })).toContainEqual(abort("run-1", "task passed its deadline of 59000 ms"));
  });

  it("within its deadline, without one, or finished: no change", () => {
    expect(decideDeadlineExceeded(withDeadline("running", 60_000), ID, ctx)).toEqual({ next: null, effects: [], reply: false });
    expect(decideDeadlineExceeded(running(), ID, ctx)).toEqual({ next: null, effects: [], reply: false });
    const done = withDeadline("completed", 1);
    expect(decideDeadlineExceeded(done, ID, ctx)).toEqual({ next: null, effects: effectsOf(done, { now: NOW_MS, runEnded: true }), reply: false });
  });
});

describe("decideQueueTimedOut", () => {
  it("fails a queued attempt no node served with no_runner", () => {
    const t = taskRecord("queued", { plan });
    const d = decideQueueTimedOut(t, ID, 1, 90_400, ctx);
    const error = { code: "no_runner", message: "no runner node served kind 'local' for 90 s", retryable: false };
    const next = { ...t, status: "failed" as const, error, updated_at: NOW, finished_at: NOW };
    expect(d).toEqual({
      next,
      effects: [
        { type: "log", level: "warn", fields: { task_id: ID, kind: "local" }, msg: "queue timeout: no runner serves the kind" },
        { type: "note", task: next },
        status(next, { status: "failed", attempt: 1, error }, `${ID}:s:failed`),
        counted("failed"),
      ],
      reply: true,
    });
  });

  it("another attempt, or a task claimed meanwhile: no change", () => {
    expect(decideQueueTimedOut(taskRecord("queued", { attempt: 2 }), ID, 1, 90_000, ctx)).toEqual({ next: null, effects: [], reply: false });
    expect(decideQueueTimedOut(running(), ID, 1, 90_000, ctx)).toEqual({ next: null, effects: [], reply: false });
  });
});
