import {
  AgentLimits,
  ClaimGranted,
  type EventType,
  RetryPolicy,
  type RoundVerdict,
  RunPlan,
  roundOverBudget,
  type ScriptStep,
  ZERO_USAGE,
} from "@switchyard/contracts";
import { describe, expect, it } from "vitest";
import { inputText, runAgentLoop } from "./agent-loop.ts";
import type { RoundCheck, RunOutcome } from "./kinds/kind.ts";
import { ScriptedModel } from "./scripted-model.ts";
import { BUILTIN_TOOLS } from "./tools.ts";

describe("inputText", () => {
  it("returns a string input as is", () => {
    expect(inputText("hello")).toBe("hello");
  });

  it("returns the last user message of a conversation", () => {
    expect(
      inputText([
        { role: "system", content: "be nice" },
        { role: "user", content: "first" },
        { role: "assistant", content: "ok" },
        { role: "user", content: "second" },
        { role: "assistant", content: "reply" },
      ]),
    ).toBe("second");
  });

  it("falls back to the last message when no message is from the user", () => {
    expect(
      inputText([
        { role: "system", content: "sys" },
        { role: "assistant", content: "last" },
      ]),
    ).toBe("last");
  });
});

// The loop with the real scripted model and built-in tools; the kernel's side is the `checkRound`
// it is given, which records every round the loop asks about (ARCHITECTURE.md §8).
describe("runAgentLoop: which rounds ask the kernel", () => {
  function grantFor(limits: Record<string, number>, script: ScriptStep[], extra: Partial<ClaimGranted> = {}): ClaimGranted {
    const plan = RunPlan.parse({
      v: 1,
      agent: "a",
      agent_kind: "llm",
      model: "scripted",
      instructions: "",
      tools: ["echo"],
      executor: { type: "local" },
      runner_kind: "local",
      limits: AgentLimits.parse(limits),
      retry: RetryPolicy.parse({}),
      script,
    });
    return ClaimGranted.parse({
      v: 1,
      granted: true,
      task_id: "01a201a7-9eed-72ff-9d64-000000000001",
      run_id: "run-1",
      attempt: 1,
      tenant: "t",
      agent: "a",
      input: "hi",
      plan,
      checkpoint: null,
      usage: ZERO_USAGE,
      resume: null,
      ...extra,
    });
  }

  async function run(grant: ClaimGranted, verdict: RoundVerdict = { v: 1, verdict: "proceed" }) {
    const asked: RoundCheck[] = [];
    const events: { type: EventType; data: unknown }[] = [];
    const outcome = await runAgentLoop({
      grant,
      model: new ScriptedModel(grant.plan.script ?? [], "hi", 16),
      tools: BUILTIN_TOOLS,
      sink: { emit: async (type, data) => void events.push({ type, data }), flush: async () => undefined },
      signal: new AbortController().signal,
      checkpoint: async () => undefined,
      checkRound: async (report) => {
        asked.push(report);
        return verdict;
      },
    });
    return { outcome, asked, types: events.map((e) => e.type) };
  }

  const toolThenFinal: ScriptStep[] = [{ text: "looking", tool: { name: "echo", args: { q: 1 } } }, { text: "done" }];

  it("a final round finishes without asking the kernel", async () => {
    const { outcome, asked, types } = await run(grantFor({}, [{ text: "hello there" }]));
    expect(outcome).toMatchObject({ kind: "finished", result: { text: "hello there" } });
    expect(asked).toEqual([]);
    expect(types).toEqual(["step.start", "text.delta", "message", "usage", "step.finish"]);
  });

  it("a tool round asks the kernel before its call runs; the final round after it does not", async () => {
    const { outcome, asked, types } = await run(grantFor({}, toolThenFinal));
    expect(outcome).toMatchObject({ kind: "finished", result: { text: "done" } });
    expect(asked.map((r) => ({ round: r.round, calls: r.calls.map((c) => c.tool) }))).toEqual([{ round: 1, calls: ["echo"] }]);
    expect(types.indexOf("tool.result")).toBeGreaterThan(types.indexOf("tool.call"));
  });

  it("a tool round the kernel stops runs no tool (the fence before side effects)", async () => {
    const { outcome, asked, types } = await run(grantFor({}, toolThenFinal), { v: 1, verdict: "stop", reason: "fenced", message: "not current" });
    expect(outcome).toEqual({ kind: "stopped", usage: expect.anything(), message: "not current" });
    expect(asked).toHaveLength(1);
    expect(types).not.toContain("tool.result");
  });

  it("a final round over max_tokens fails with budget_exceeded (not retryable) without asking the kernel", async () => {
    const long = "A much longer final round that goes on and on, well past the token budget this task was given.";
    const { outcome, asked, types } = await run(grantFor({ max_tokens: 20 }, [{ text: long }]));
    expect(asked).toEqual([]);
    expect(outcome.kind).toBe("failed");
    const { error, usage } = outcome as Extract<RunOutcome, { kind: "failed" }>;
    // Exactly what the kernel records for the same round (the shared function from contracts).
    expect(error).toEqual(roundOverBudget(grantFor({ max_tokens: 20 }, []).plan.limits, { round: 1, usage, calls: [] }));
    expect(error).toMatchObject({ code: "budget_exceeded", retryable: false, details: { budget: "max_tokens", limit: 20, used: usage.total_tokens } });
    expect(usage.total_tokens).toBeGreaterThan(20);
    // Like the kernel's stop: the round's events are out, and it gets no step.finish.
    expect(types).toEqual(["step.start", ...types.slice(1, -2).map(() => "text.delta"), "message", "usage"]);
  });

  it("max_rounds: a final answer in the last allowed round is fine; tool rounds still ask the kernel", async () => {
    const { outcome, asked } = await run(grantFor({ max_rounds: 2 }, toolThenFinal));
    expect(outcome).toMatchObject({ kind: "finished", result: { text: "done" } });
    expect(asked.map((r) => r.round)).toEqual([1]);
  });

  it("a final round over max_tokens after a tool round: the tool round was checked, the final one fails here", async () => {
    const wordy: ScriptStep[] = [
      { text: "short", tool: { name: "echo", args: { n: 1 } } },
      { text: "A much longer second round that goes on and on, well past any sensible budget of tokens for this task." },
    ];
    const { outcome, asked } = await run(grantFor({ max_tokens: 40 }, wordy));
    expect(asked.map((r) => r.round)).toEqual([1]);
    expect(outcome).toMatchObject({ kind: "failed", error: { code: "budget_exceeded", details: { budget: "max_tokens", limit: 40 } } });
  });

  it("a plan with a deadline and a grant without created_at (an older kernel) still has the kernel check its final round", async () => {
    const { outcome, asked } = await run(grantFor({ deadline_ms: 60_000 }, [{ text: "hello" }]));
    expect(outcome.kind).toBe("finished");
    expect(asked.map((r) => ({ round: r.round, calls: r.calls.length }))).toEqual([{ round: 1, calls: 0 }]);
  });

  it("a grant with created_at: the run judges the deadline after a final round itself", async () => {
    const inTime = await run(grantFor({ deadline_ms: 60_000 }, [{ text: "hello" }], { created_at: new Date().toISOString() }));
    expect(inTime.outcome.kind).toBe("finished");
    expect(inTime.asked).toEqual([]);
    const late = await run(grantFor({ deadline_ms: 1000 }, [{ text: "hello" }], { created_at: new Date(Date.now() - 5000).toISOString() }));
    expect(late.asked).toEqual([]);
    expect(late.outcome).toMatchObject({ kind: "failed", error: { code: "budget_exceeded", retryable: false, details: { budget: "deadline", limit: 1000 } } });
  });
});
