// Budgets (ARCHITECTURE.md §8): one pure judgement shared by the kernel, which checks every
// round a runner reports, and the runner, which judges a final round (one without tool calls)
// itself. Both sides call these functions, so they agree on every verdict and on its exact
// error. Exceeding a budget fails the task with `budget_exceeded`, never retried;
// `details.budget` says which (`max_rounds`, `max_tokens`, `deadline`).
import type { AgentLimits } from "./agent.ts";
import type { WireError } from "./errors.ts";
import type { Usage } from "./task.ts";

/** The facts of one finished model round that the budgets read. */
export interface BudgetRound {
  /** The round number, from 1 over the whole task. */
  round: number;
  /** Cumulative over every attempt and resume. */
  usage: Usage;
  calls: readonly unknown[];
}

/**
 * The budgets a round's own facts decide (tokens, rounds), or null. The deadline needs the
 * task's creation time as well: `overBudget` checks all three.
 */
export function roundOverBudget(limits: AgentLimits, round: BudgetRound): WireError | null {
  if (limits.max_tokens !== undefined && round.usage.total_tokens > limits.max_tokens) {
    return over(
      "max_tokens",
      `used ${round.usage.total_tokens} tokens, more than max_tokens ${limits.max_tokens}`,
      limits.max_tokens,
      round.usage.total_tokens,
    );
  }
  // Tool calls in the last allowed round could only be read by a round the budget does not allow.
  if (round.calls.length > 0 && round.round >= limits.max_rounds) {
    return over("max_rounds", `round ${round.round} asked for tools, but max_rounds is ${limits.max_rounds}`, limits.max_rounds, round.round);
  }
  return null;
}

/** The deadline alone (`deadline_ms` from `createdAt`): after every round and, for a task between rounds, by the kernel's reaper. */
export function pastDeadline(limits: AgentLimits, createdAt: string, nowMs: number): WireError | null {
  const limit = limits.deadline_ms;
  if (limit === undefined) return null;
  const elapsed = nowMs - Date.parse(createdAt);
  return elapsed > limit ? over("deadline", `task passed its deadline of ${limit} ms`, limit, elapsed) : null;
}

/** Every budget after a round: tokens, then rounds, then the deadline. */
export function overBudget(limits: AgentLimits, createdAt: string, round: BudgetRound, nowMs: number): WireError | null {
  return roundOverBudget(limits, round) ?? pastDeadline(limits, createdAt, nowMs);
}

function over(budget: string, message: string, limit: number, used: number): WireError {
  return { code: "budget_exceeded", message, retryable: false, details: { budget, limit, used } };
}
