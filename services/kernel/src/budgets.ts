// Budgets (issue 6): the kernel checks them after every model round, from the facts a runner
// reports (round number, cumulative usage). Exceeding one fails the task with
// `budget_exceeded`; `details.budget` says which (`max_rounds`, `max_tokens`, `deadline`).
import type { RoundReport, TaskRecord, WireError } from "@switchyard/contracts";

export function budgetExceeded(t: TaskRecord, round: Pick<RoundReport, "round" | "usage" | "calls">, nowMs: number): WireError | null {
  const limits = t.plan?.limits;
  if (!limits) return null;
  const over = (budget: string, message: string, limit: number, used: number): WireError => ({
    code: "budget_exceeded",
    message,
    retryable: false,
    details: { budget, limit, used },
  });
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
  if (limits.deadline_ms !== undefined) {
    const elapsed = nowMs - Date.parse(t.created_at);
    if (elapsed > limits.deadline_ms) return over("deadline", `task passed its deadline of ${limits.deadline_ms} ms`, limits.deadline_ms, elapsed);
  }
  return null;
}
