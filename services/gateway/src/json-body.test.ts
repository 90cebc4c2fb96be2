import { describe, expect, it } from "vitest";
import { HttpProblem } from "./http-errors.ts";
import { assertUtf8ContentType, MAX_JSON_DEPTH, nestingDepth, parseJsonBody } from "./json-body.ts";

function problem(fn: () => unknown): HttpProblem {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(HttpProblem);
    return err as HttpProblem;
  }
  throw new Error("expected an HttpProblem");
}

const nested = (levels: number) => `${'{"a":'.repeat(levels)}1${"}".repeat(levels)}`;

describe("parseJsonBody", () => {
  it("parses JSON of any top-level type (the route's schema decides what it accepts)", () => {
    expect(parseJsonBody('{"agent":"a","input":"hi"}')).toEqual({ agent: "a", input: "hi" });
    expect(parseJsonBody("[1,2]")).toEqual([1, 2]);
    expect(parseJsonBody("null")).toBeNull();
  });

  it("accepts exactly MAX_JSON_DEPTH levels and refuses one more, without overflowing the stack at 100 000", () => {
    expect(parseJsonBody(nested(MAX_JSON_DEPTH))).toBeTypeOf("object");
    expect(problem(() => parseJsonBody(nested(MAX_JSON_DEPTH + 1))).message).toMatch(/nests deeper than 64 levels/);
    const p = problem(() => parseJsonBody(`${"[".repeat(100_000)}${"]".repeat(100_000)}`));
    expect(p.status).toBe(400);
  });

  it("does not count brackets inside strings (escaped quotes included)", () => {
    expect(nestingDepth('{"a":"[[[[{{{{\\"[[[["}')).toBe(1);
    expect(parseJsonBody(`{"text":"${"[".repeat(1000)}"}`)).toEqual({ text: "[".repeat(1000) });
  });

  it("refuses __proto__ and constructor.prototype anywhere, naming where", () => {
    const top = problem(() => parseJsonBody('{"agent":"a","__proto__":{"admin":true}}'));
    expect(top.message).toContain("'__proto__' at __proto__");
    const inner = problem(() => parseJsonBody('{"metadata":{"list":[{"constructor":{"prototype":{"x":1}}}]}}'));
    expect(inner.message).toContain("metadata.list[0].constructor.prototype");
    // A key merely named constructor is data.
    expect(parseJsonBody('{"constructor":{"name":"x"}}')).toEqual({ constructor: { name: "x" } });
    expect(({} as { admin?: boolean }).admin).toBeUndefined();
  });

  it("says why a body is not JSON, and that an empty one is empty", () => {
    expect(problem(() => parseJsonBody('{"agent":"a"')).message).toMatch(/^request body is not valid JSON: /);
    expect(problem(() => parseJsonBody("  ")).message).toMatch(/empty/);
  });
});

describe("assertUtf8ContentType", () => {
  it("accepts no charset or utf-8, refuses others with 415", () => {
    for (const ok of [undefined, "application/json", "application/json; charset=utf-8", 'application/json; charset="UTF-8"']) {
      expect(() => assertUtf8ContentType(ok)).not.toThrow();
    }
    const p = problem(() => assertUtf8ContentType("application/json; charset=utf-16"));
    expect(p.status).toBe(415);
    expect(p.message).toContain("utf-16");
  });
});
