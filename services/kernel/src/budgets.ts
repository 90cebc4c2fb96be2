// Budgets (issue 6): the kernel checks them after every round a runner reports, from its facts
// (round number, cumulative usage, tool calls). The judgement itself is `overBudget` in
// contracts, which the runner uses for the final rounds it does not report (ARCHITECTURE.md §8),
// so both sides agree by construction. Exceeding one fails the task with `budget_exceeded`.
import { overBudget, pastDeadline, type RoundReport, type TaskRecord, type WireError } from "@switchyard/contracts";

export function budgetExceeded(t: TaskRecord, round: Pick<RoundReport, "round" | "usage" | "calls">, nowMs: number): WireError | null {
  return t.plan ? overBudget(t.plan.limits, t.created_at, round, nowMs) : null;
}

/** The deadline budget alone: checked after every round and, for tasks not running a round, by the reaper. */
export function deadlinePassed(t: TaskRecord, nowMs: number): WireError | null {
  return t.plan ? pastDeadline(t.plan.limits, t.created_at, nowMs) : null;
}
