import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { SwitchyardError } from "@switchyard/contracts";
import { describe, expect, it } from "vitest";
import { parseAgentMarkdown } from "./agent-md.ts";
import { validateAgentDef } from "./catalog.ts";
import { compileRunPlan } from "./plan.ts";

function invalid(fn: () => unknown): SwitchyardError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SwitchyardError);
    const e = err as SwitchyardError;
    expect(e.code).toBe("invalid_agent");
    expect(e.retryable).toBe(false);
    return e;
  }
  throw new Error("expected validateAgentDef to throw");
}

describe("validateAgentDef", () => {
  it("returns the definition with defaults applied, named after the path", () => {
    expect(validateAgentDef("writer", { model: "gpt-x" })).toMatchObject({
      name: "writer",
      kind: "llm",
      model: "gpt-x",
      executor: { type: "local" },
      limits: { max_rounds: 16 },
    });
    expect(validateAgentDef("writer", { name: "writer", model: "gpt-x" }).name).toBe("writer");
  });

  it("accepts the same tool schema with an $id again (a re-PUT or a reload of agents/)", () => {
    const def = () => ({
      model: "gpt-x",
      tools: [{ name: "lookup", description: "d", parameters: { $id: "https://example.test/lookup", type: "object" }, external: true }],
    });
    for (let i = 0; i < 3; i++) expect(validateAgentDef("looker", def()).tools).toHaveLength(1);
  });

  it("refuses a body name that differs from the path, naming the field", () => {
    const e = invalid(() => validateAgentDef("writer", { name: "reader", model: "m" }));
    expect(e.details).toEqual([{ path: "name", message: "must match the name in the path" }]);
    expect(e.message).toContain('"reader"');
  });

  it.each([null, [], "text", 42])("refuses a body that is not an object: %j", (raw) => {
    const e = invalid(() => validateAgentDef("writer", raw));
    expect(e.message).toBe("agent definition must be a JSON object");
  });

  it("names the path of a bad field in details and in the message", () => {
    const e = invalid(() => validateAgentDef("writer", { model: "m", limits: { max_rounds: 0 } }));
    expect(e.details).toEqual([{ path: "limits.max_rounds", message: expect.any(String) }]);
    expect(e.message).toMatch(/^invalid agent definition: limits\.max_rounds: /);
  });

  it("lists every bad field", () => {
    const e = invalid(() => validateAgentDef("writer", { model: "", tools: [""], retry: { max_attempts: 0 } }));
    const paths = (e.details as { path: string }[]).map((d) => d.path).sort();
    expect(paths).toEqual(["model", "retry.max_attempts", "tools.0"]);
  });

  it("refuses a path name that is not a slug", () => {
    const e = invalid(() => validateAgentDef("Bad Name", { model: "m" }));
    expect((e.details as { path: string }[]).map((d) => d.path)).toEqual(["name"]);
  });

  it("refuses a scripted agent without a script on path `script`", () => {
    const e = invalid(() => validateAgentDef("s", { model: "scripted" }));
    expect(e.details).toEqual([{ path: "script", message: "model 'scripted' needs a non-empty script" }]);
  });
});

describe("the agents shipped in agents/", () => {
  const dir = () => join(import.meta.dirname, "..", "..", "..", "agents");
  const files = readdirSync(dir()).filter((f) => f.endsWith(".md") && f.toLowerCase() !== "readme.md");

  it("pay.md needs approval for payments; weather.md has an external tool with a returns schema", () => {
    const pay = validateAgentDef("pay", parseAgentMarkdown(readFileSync(join(dir(), "pay.md"), "utf8"), "pay"));
    expect(pay.approval).toEqual({ policy: "pattern", tools: ["payments.*"], timeout_ms: 3_600_000, on_timeout: "reject" });
    const weather = compileRunPlan(validateAgentDef("weather", parseAgentMarkdown(readFileSync(join(dir(), "weather.md"), "utf8"), "weather")));
    expect(weather.tools).toEqual(["get_weather"]);
    expect(weather.external_tools[0]).toMatchObject({ name: "get_weather", external: true, returns: { required: ["temp_c"] } });
  });

  it("exist", () => {
    expect(files).toEqual(expect.arrayContaining(["hello.md", "slow.md", "pay.md", "weather.md"]));
  });

  it.each(files)("%s parses, validates and compiles", (file) => {
    const raw = parseAgentMarkdown(readFileSync(join(dir(), file), "utf8"), basename(file, ".md"));
    const def = validateAgentDef(String(raw.name), raw);
    expect(def.name).toBe(basename(file, ".md"));
    expect(def.instructions.length).toBeGreaterThan(0);
    const plan = compileRunPlan(def);
    expect(plan.runner_kind).toBe("local");
    const toolNames = def.tools.map((t) => (typeof t === "string" ? t : t.name));
    for (const step of def.script ?? []) if (step.tool) expect(toolNames, `${file} uses tool ${step.tool.name}`).toContain(step.tool.name);
  });

  it("hello.md is the echo demo", () => {
    const raw = parseAgentMarkdown(readFileSync(join(dir(), "hello.md"), "utf8"), "hello");
    const def = validateAgentDef("hello", raw);
    expect(def).toMatchObject({ model: "scripted", tools: ["echo"], limits: { max_rounds: 4 } });
    expect(def.script).toEqual([
      { text: "Hello! Let me look that up.", tool: { name: "echo", args: { q: "{{input}}" } } },
      { text: "Done: you said {{input}}." },
    ]);
  });
});
