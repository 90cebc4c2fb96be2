// The CLI's pure parts: tables, ages, the stream renderer, agent files.
import { describe, expect, it } from "vitest";
import { parseAgentMarkdown } from "./main.ts";
import { age, type Out, StreamRenderer, table } from "./render.ts";

const capture = () => {
  const o = { out: "", err: "" };
  const out: Out = {
    out: (s) => {
      o.out += s;
    },
    err: (s) => {
      o.err += s;
    },
    color: false,
  };
  return { o, out };
};
const base = { seq: 1, task_id: "t1", run_id: null, attempt: 1, ts: "" };

describe("render", () => {
  it("aligns table columns", () => {
    expect(table(["A", "BB"], [["xxx", "y"]])).toBe("A    BB\nxxx  y\n");
  });
  it("says ages in s, m, h", () => {
    const now = Date.parse("2026-01-01T01:00:00Z");
    expect(age("2026-01-01T00:59:30Z", now)).toBe("30s");
    expect(age("2026-01-01T00:58:05Z", now)).toBe("1m55s");
    expect(age("2025-12-31T23:00:00Z", now)).toBe("2h00m");
    expect(age(null, now)).toBe("-");
  });
  it("puts text on stdout and the rest on stderr, ending the text line first", () => {
    const { o, out } = capture();
    const r = new StreamRenderer(out);
    r.event({ ...base, type: "text.delta", data: { round: 1, delta: "Hello" } });
    r.event({ ...base, type: "tool.call", data: { round: 1, call_id: "c1", tool: "echo", args: { q: 1 } } });
    r.event({ ...base, type: "status", data: { status: "failed", error: { code: "budget_exceeded", message: "no", retryable: false } } });
    r.end();
    expect(o.out).toBe("Hello\n");
    expect(o.err).toBe('→ echo({"q":1})\n● failed: budget_exceeded: no\n');
  });
});

describe("agent files", () => {
  it("reads YAML front matter and the body as instructions; refuses a file without front matter", () => {
    expect(parseAgentMarkdown("---\nmodel: scripted\ntools: [echo]\n---\nBe brief.\n", "a")).toEqual({
      name: "a",
      model: "scripted",
      tools: ["echo"],
      instructions: "Be brief.",
    });
    expect(() => parseAgentMarkdown("model: x", "a")).toThrow(/front matter/);
    expect(() => parseAgentMarkdown("---\n- a\n---\n", "a")).toThrow(/mapping/);
  });
});
