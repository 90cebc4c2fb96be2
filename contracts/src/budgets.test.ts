import { describe, expect, it } from "vitest";
import { AgentLimits } from "./agent.ts";
import { overBudget, pastDeadline, roundOverBudget } from "./budgets.ts";

const created = "2025-01-01T00:00:00.000Z";
const at = (ms: number) => Date.parse(created) + ms;
const limits = (l: Record<string, number>) => AgentLimits.parse(l);
const usage = (total: number) => ({ input_tokens: total, output_tokens: 0, total_tokens: total });
const call = { call_id: "c", tool: "echo", args: {} };

describe("roundOverBudget (the budgets a round's own facts decide)", () => {
  it("passes a round at every limit, and any round when nothing is limited", () => {
    expect(roundOverBudget(limits({ max_rounds: 2, max_tokens: 100 }), { round: 1, usage: usage(100), calls: [call] })).toBeNull();
    expect(roundOverBudget(limits({}), { round: 16, usage: usage(1_000_000), calls: [] })).toBeNull();
  });

  it("max_tokens: more than the limit, in a tool round and in a final round alike", () => {
    const error = {
      code: "budget_exceeded",
      message: "used 101 tokens, more than max_tokens 100",
      retryable: false,
      details: { budget: "max_tokens", limit: 100, used: 101 },
    };
    expect(roundOverBudget(limits({ max_tokens: 100 }), { round: 3, usage: usage(101), calls: [] })).toEqual(error);
    expect(roundOverBudget(limits({ max_tokens: 100 }), { round: 3, usage: usage(101), calls: [call] })).toEqual(error);
  });

  it("max_rounds: tool calls in the last allowed round; a final answer in it (or past it) is fine", () => {
    expect(roundOverBudget(limits({ max_rounds: 2 }), { round: 2, usage: usage(1), calls: [call] })).toEqual({
      code: "budget_exceeded",
      message: "round 2 asked for tools, but max_rounds is 2",
      retryable: false,
      details: { budget: "max_rounds", limit: 2, used: 2 },
    });
    expect(roundOverBudget(limits({ max_rounds: 2 }), { round: 2, usage: usage(1), calls: [] })).toBeNull();
    expect(roundOverBudget(limits({ max_rounds: 2 }), { round: 1, usage: usage(1), calls: [call] })).toBeNull();
  });

  it("names max_tokens first when a round is over both", () => {
    expect(roundOverBudget(limits({ max_rounds: 1, max_tokens: 5 }), { round: 1, usage: usage(6), calls: [call] })?.details).toMatchObject({
      budget: "max_tokens",
    });
  });
});

describe("pastDeadline and overBudget", () => {
  it("deadline: from creation, strictly after the limit", () => {
    expect(pastDeadline(limits({ deadline_ms: 500 }), created, at(500))).toBeNull();
    expect(pastDeadline(limits({ deadline_ms: 500 }), created, at(501))).toEqual({
      code: "budget_exceeded",
      message: "task passed its deadline of 500 ms",
      retryable: false,
      details: { budget: "deadline", limit: 500, used: 501 },
    });
    expect(pastDeadline(limits({}), created, at(10_000_000))).toBeNull();
  });

  it("overBudget: the round's budgets first, then the deadline", () => {
    const l = limits({ max_tokens: 10, deadline_ms: 500 });
    expect(overBudget(l, created, { round: 1, usage: usage(11), calls: [] }, at(501))?.details).toMatchObject({ budget: "max_tokens" });
    expect(overBudget(l, created, { round: 1, usage: usage(10), calls: [] }, at(501))?.details).toMatchObject({ budget: "deadline" });
    expect(overBudget(l, created, { round: 1, usage: usage(10), calls: [] }, at(500))).toBeNull();
  });
});
