// Budgets (issue 6): the kernel checks them after every model round, from the facts a runner
// reports (round number, cumulative usage). Exceeding one fails the task with
// `budget_exceeded`; `details.budget` says which (`max_rounds`, `max_tokens`, `deadline`).
import type { RoundReport, TaskRecord, WireError } from "@switchyard/contracts";

export function budgetExceeded(t: TaskRecord, round: Pick<RoundReport, "round" | "usage" | "calls">, nowMs: number): WireError | null {
  const limits = t.plan?.limits;
  if (!limits) return null;
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
  return deadlinePassed(t, nowMs);
}

/** The deadline budget alone: checked after every round and, for tasks not running a round, by the reaper. */
export function deadlinePassed(t: TaskRecord, nowMs: number): WireError | null {
  const limit = t.plan?.limits.deadline_ms;
  if (limit === undefined) return null;
  const elapsed = nowMs - Date.parse(t.created_at);
  return elapsed > limit ? over("deadline", `task passed its deadline of ${limit} ms`, limit, elapsed) : null;
}

function over(budget: string, message: string, limit: number, used: number): WireError {
  return { code: "budget_exceeded", message, retryable: false, details: { budget, limit, used } };
}
