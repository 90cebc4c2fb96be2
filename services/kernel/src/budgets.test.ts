import type { TaskRecord } from "@switchyard/contracts";
import { describe, expect, it } from "vitest";
import { budgetExceeded } from "./budgets.ts";

const created = "2025-01-01T00:00:00.000Z";
const task = (limits: Record<string, number>) => ({ created_at: created, plan: { limits: { max_rounds: 16, ...limits } } }) as unknown as TaskRecord;
const usage = (total: number) => ({ input_tokens: total, output_tokens: 0, total_tokens: total });
const call = { call_id: "c", tool: "echo", args: {} };
const at = (ms: number) => Date.parse(created) + ms;

describe("budgetExceeded", () => {
  it("passes a round within every budget", () => {
    expect(budgetExceeded(task({ max_tokens: 100, deadline_ms: 1000 }), { round: 1, usage: usage(100), calls: [call] }, at(1000))).toBeNull();
  });

  it("max_tokens: more than the limit, counted over the whole task", () => {
    expect(budgetExceeded(task({ max_tokens: 100 }), { round: 3, usage: usage(101), calls: [] }, at(0))).toEqual({
      code: "budget_exceeded",
      message: "used 101 tokens, more than max_tokens 100",
      retryable: false,
      details: { budget: "max_tokens", limit: 100, used: 101 },
    });
  });

  it("max_rounds: tool calls in the last allowed round; a final answer in it is fine", () => {
    expect(budgetExceeded(task({ max_rounds: 2 }), { round: 2, usage: usage(1), calls: [call] }, at(0))?.details).toEqual({
      budget: "max_rounds",
      limit: 2,
      used: 2,
    });
    expect(budgetExceeded(task({ max_rounds: 2 }), { round: 2, usage: usage(1), calls: [] }, at(0))).toBeNull();
    expect(budgetExceeded(task({ max_rounds: 2 }), { round: 1, usage: usage(1), calls: [call] }, at(0))).toBeNull();
  });

  it("deadline: from creation", () => {
    expect(budgetExceeded(task({ deadline_ms: 500 }), { round: 1, usage: usage(1), calls: [] }, at(501))?.details).toEqual({
      budget: "deadline",
      limit: 500,
      used: 501,
    });
  });
});
