import { describe, expect, it } from "vitest";
import { AgentDef, Executor, effectiveLimits, executorOverrideRefusal, raisedLimits, runnerKindOf } from "./agent.ts";

describe("AgentDef", () => {
  it("applies defaults to a minimal definition", () => {
    expect(AgentDef.parse({ name: "writer", model: "gpt-x" })).toEqual({
      name: "writer",
      kind: "llm",
      model: "gpt-x",
      instructions: "",
      tools: [],
      executor: { type: "local" },
      executor_overrides: [],
      limits: { max_rounds: 16 },
      retry: { max_attempts: 3, initial_backoff_ms: 500, max_backoff_ms: 30_000 },
      approval: { policy: "never" },
    });
  });

  it("fills defaults inside partially given nested objects", () => {
    const def = AgentDef.parse({ name: "w", model: "m", limits: { max_tokens: 100 }, retry: { max_attempts: 5 } });
    expect(def.limits).toEqual({ max_rounds: 16, max_tokens: 100 });
    expect(def.retry).toEqual({ max_attempts: 5, initial_backoff_ms: 500, max_backoff_ms: 30_000 });
  });

  it("rejects a scripted agent without a script, on path `script`", () => {
    for (const script of [undefined, []]) {
      const r = AgentDef.safeParse({ name: "s", model: "scripted", ...(script ? { script } : {}) });
      expect(r.success).toBe(false);
      expect(r.error?.issues.map((i) => i.path)).toEqual([["script"]]);
    }
  });

  it("accepts a scripted agent with a script and defaults the step fields", () => {
    const def = AgentDef.parse({ name: "s", model: "scripted", script: [{ tool: { name: "echo" } }, { fail: { message: "boom" } }] });
    expect(def.script).toEqual([{ tool: { name: "echo", args: {} } }, { fail: { message: "boom", retryable: false } }]);
  });

  it("rejects a script on a non-scripted model", () => {
    const r = AgentDef.safeParse({ name: "s", model: "gpt-x", script: [{ text: "hi" }] });
    expect(r.error?.issues.map((i) => i.path)).toEqual([["script"]]);
  });

  it("is strict: unknown keys are errors, at any depth", () => {
    const top = AgentDef.safeParse({ name: "w", model: "m", temperature: 0.2 });
    expect(top.success).toBe(false);
    expect(top.error?.issues[0]?.code).toBe("unrecognized_keys");
    const nested = AgentDef.safeParse({ name: "w", model: "m", limits: { max_round: 3 } });
    expect(nested.success).toBe(false);
    expect(nested.error?.issues[0]?.path).toEqual(["limits"]);
  });

  it("rejects out-of-range limits with the field path", () => {
    const r = AgentDef.safeParse({ name: "w", model: "m", limits: { max_rounds: 0 } });
    expect(r.error?.issues.map((i) => i.path)).toEqual([["limits", "max_rounds"]]);
  });

  it("rejects a name that is not a slug", () => {
    expect(AgentDef.safeParse({ name: "Writer", model: "m" }).success).toBe(false);
  });
});

describe("Executor", () => {
  it("parses local", () => {
    expect(Executor.parse({ type: "local" })).toEqual({ type: "local" });
  });

  it("remote needs a slug runner kind and defaults config to {}", () => {
    expect(Executor.parse({ type: "remote", runner: { kind: "gpu" } })).toEqual({ type: "remote", runner: { kind: "gpu", config: {} } });
    expect(Executor.parse({ type: "remote", runner: { kind: "gpu", config: { zone: "eu" } } })).toEqual({
      type: "remote",
      runner: { kind: "gpu", config: { zone: "eu" } },
    });
    expect(Executor.safeParse({ type: "remote" }).success).toBe(false);
    expect(Executor.safeParse({ type: "remote", runner: {} }).success).toBe(false);
    const bad = Executor.safeParse({ type: "remote", runner: { kind: "GPU box" } });
    expect(bad.error?.issues.map((i) => i.path)).toEqual([["runner", "kind"]]);
  });

  it("rejects unknown types and extra keys", () => {
    expect(Executor.safeParse({ type: "cloud" }).success).toBe(false);
    expect(Executor.safeParse({ type: "local", runner: { kind: "gpu" } }).success).toBe(false);
  });
});

describe("runnerKindOf", () => {
  it("is `local` for the general pool and the runner kind for remote", () => {
    expect(runnerKindOf({ type: "local" })).toBe("local");
    expect(runnerKindOf({ type: "remote", runner: { kind: "gpu", config: {} } })).toBe("gpu");
  });
  it("needs operator_ref for an operator agent, a model for any other, and operator_ref only for operators", () => {
    expect(AgentDef.parse({ name: "desk", kind: "operator", operator_ref: "alice" })).toMatchObject({ kind: "operator", operator_ref: "alice" });
    const noRef = AgentDef.safeParse({ name: "desk", kind: "operator" });
    expect(noRef.success ? [] : noRef.error.issues.map((i) => i.path.join("."))).toEqual(["operator_ref"]);
    const noModel = AgentDef.safeParse({ name: "w" });
    expect(noModel.success ? [] : noModel.error.issues.map((i) => i.path.join("."))).toEqual(["model"]);
    const stray = AgentDef.safeParse({ name: "w", model: "m", operator_ref: "alice" });
    expect(stray.success ? [] : stray.error.issues.map((i) => i.path.join("."))).toEqual(["operator_ref"]);
  });
});

describe("tools, approval policies and limits", () => {
  const base = { name: "p", model: "gpt-x" };

  it("accepts built-in tool names and external tools, and refuses a tool declared twice", () => {
    const def = AgentDef.parse({ ...base, tools: ["echo", { name: "get_weather", external: true, returns: { type: "object" } }] });
    expect(def.tools[1]).toEqual({ name: "get_weather", description: "", parameters: { type: "object" }, returns: { type: "object" }, external: true });
    const twice = AgentDef.safeParse({ ...base, tools: ["echo", { name: "echo", external: true }] });
    expect(twice.error?.issues.map((i) => i.path)).toEqual([["tools", 1]]);
  });

  it("parses nested composite policies and keeps timeouts on the top level only", () => {
    const approval = {
      policy: "composite",
      mode: "any",
      timeout_ms: 1000,
      on_timeout: "fail",
      policies: [
        { policy: "pattern", tools: ["payments.*"] },
        { policy: "composite", mode: "all", policies: [{ policy: "threshold", arg: "amount", limit: 100 }, { policy: "always" }] },
      ],
    };
    const def = AgentDef.parse({ ...base, approval });
    expect(def.approval).toMatchObject({ policy: "composite", timeout_ms: 1000 });
    const nested = AgentDef.safeParse({ ...base, approval: { ...approval, policies: [{ policy: "always", timeout_ms: 5 }] } });
    expect(nested.error?.issues.map((i) => i.path.join("."))).toEqual(["approval.policies.0"]);
    const unknown = AgentDef.safeParse({ ...base, approval: { policy: "sometimes" } });
    expect(unknown.error?.issues[0]?.path).toEqual(["approval", "policy"]);
  });

  it("lets a task lower limits but names every field it raises", () => {
    const agent = { max_rounds: 4, max_tokens: 1000 };
    expect(raisedLimits(agent, { max_rounds: 2, max_tokens: 10, deadline_ms: 50 })).toEqual([]);
    expect(raisedLimits(agent, { max_rounds: 5, max_tokens: 2000 })).toEqual([
      { field: "max_rounds", agent: 4, task: 5 },
      { field: "max_tokens", agent: 1000, task: 2000 },
    ]);
    expect(effectiveLimits(agent, { max_rounds: 2, deadline_ms: 50 })).toEqual({ max_rounds: 2, max_tokens: 1000, deadline_ms: 50 });
    expect(effectiveLimits(agent, undefined)).toEqual(agent);
  });
});

describe("executorOverrideRefusal (a task's executor vs its agent's executor_overrides)", () => {
  const agent = AgentDef.parse({ name: "a", model: "scripted", script: [{ text: "x" }] });
  const proc = { type: "remote" as const, runner: { kind: "process", config: { program: "p.mjs", env: { NODE_OPTIONS: "x" } } } };

  it("lets a task omit the executor or repeat the agent's own, whatever its key order", () => {
    expect(executorOverrideRefusal(agent, undefined)).toBeNull();
    expect(executorOverrideRefusal(agent, { type: "local" })).toBeNull();
    const remote = AgentDef.parse({
      name: "b",
      model: "scripted",
      script: [{ text: "x" }],
      executor: { type: "remote", runner: { kind: "k", config: { a: 1, b: 2 } } },
    });
    expect(executorOverrideRefusal(remote, { type: "remote", runner: { kind: "k", config: { b: 2, a: 1 } } })).toBeNull();
    expect(executorOverrideRefusal(remote, { type: "remote", runner: { kind: "k", config: { a: 1, b: 3 } } })).toMatch(/executor_overrides is empty/);
  });

  it("refuses any other executor unless the agent lists its kind", () => {
    expect(executorOverrideRefusal(agent, proc)).toMatch(/agent 'a' does not let a task choose its executor/);
    const open = AgentDef.parse({ name: "c", model: "scripted", script: [{ text: "x" }], executor_overrides: ["gpu", "local"] });
    expect(executorOverrideRefusal(open, { type: "remote", runner: { kind: "gpu", config: {} } })).toBeNull();
    expect(executorOverrideRefusal(open, proc)).toMatch(/only the runner kinds 'gpu', 'local' .* not 'process'/);
  });
});

describe("approval globs at agent PUT", () => {
  it("accept tool-name characters, '*' and '?', and name any other glob's path", () => {
    const base = { name: "g", model: "scripted", script: [{ text: "x" }] };
    expect(AgentDef.safeParse({ ...base, approval: { policy: "pattern", tools: ["payments.*", "delete_?", "*a*a*a*b"] } }).success).toBe(true);
    const bad = AgentDef.safeParse({
      ...base,
      approval: {
        policy: "composite",
        mode: "any",
        policies: [
          { policy: "pattern", tools: ["ok.*"] },
          { policy: "threshold", tools: ["x", "{a,b}"], arg: "n", limit: 1 },
        ],
      },
    });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues.map((i) => i.path.join("."))).toEqual(["approval.policies.1.tools.1"]);
  });

  it("caps the policies of a tree, nested ones included", () => {
    const leaf = { policy: "pattern", tools: ["x.*"] };
    const mid = { policy: "composite", mode: "any", policies: Array(20).fill(leaf) };
    const big = AgentDef.safeParse({
      name: "g",
      model: "scripted",
      script: [{ text: "x" }],
      approval: { policy: "composite", mode: "all", policies: Array(20).fill(mid) },
    });
    expect(big.error?.issues).toEqual([expect.objectContaining({ path: ["approval"], message: expect.stringContaining("at most 256 policies") })]);
  });
});
