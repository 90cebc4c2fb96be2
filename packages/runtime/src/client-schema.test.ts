import { describe, expect, it } from "vitest";
import { compileClientSchema, MAX_CLIENT_SCHEMA_BYTES, MAX_CLIENT_SCHEMA_DEPTH } from "./client-schema.ts";

const compile = (schema: unknown) => {
  const c = compileClientSchema(schema);
  if (!c.ok) throw new Error(c.message);
  return c.validate;
};

describe("compileClientSchema", () => {
  it("validates as ajv does, patterns and patternProperties included", () => {
    const v = compile({
      type: "object",
      properties: { code: { type: "string", pattern: "^[A-Z]{3}-\\d+$" } },
      patternProperties: { "^x_": { type: "number" } },
      required: ["code"],
    });
    expect(v({ code: "ABC-12", x_a: 1 })).toBe(true);
    expect(v({ code: "abc-12" })).toBe(false);
    expect(v({ code: "ABC-12", x_a: "no" })).toBe(false);
  });

  it("runs a catastrophic pattern in linear time", () => {
    const v = compile({ type: "object", properties: { s: { type: "string", pattern: "^(a+)+$" } } });
    const t0 = performance.now();
    expect(v({ s: `${"a".repeat(100_000)}!` })).toBe(false);
    expect(v({ s: "a".repeat(100_000) })).toBe(true);
    const ms = performance.now() - t0;
    console.log(
      `[redos] pattern '^(a+)+$' vs 100,000 characters: ${ms.toFixed(1)} ms (a backtracking engine: about 1 s at 26 characters, doubling with each one)`,
    );
    expect(ms).toBeLessThan(5000);
  });

  it("refuses patterns RE2 cannot run, oversized and too deep schemas, and uniqueItems", () => {
    const refusal = (schema: unknown) => {
      const c = compileClientSchema(schema);
      return c.ok ? null : c.message;
    };
    expect(refusal({ type: "string", pattern: "^(?=a)a$" })).toMatch(/pattern is not supported/);
    expect(refusal({ type: "string", pattern: "^(a)\\1$" })).toMatch(/pattern is not supported/);
    expect(refusal({ type: "object", description: "x".repeat(MAX_CLIENT_SCHEMA_BYTES) })).toMatch(/bytes; at most/);
    let deep: Record<string, unknown> = { type: "string" };
    for (let i = 0; i < MAX_CLIENT_SCHEMA_DEPTH; i++) deep = { type: "object", properties: { n: deep } };
    expect(refusal(deep)).toMatch(/nests deeper/);
    expect(refusal({ type: "array", uniqueItems: true })).toMatch(/uniqueItems/);
    expect(refusal({ type: "string", format: "email" })).toBeNull(); // formats are not evaluated
  });

  it("compiles the same $id twice (nothing stays in ajv's registry)", () => {
    const s = { $id: "https://example.test/s", type: "number" };
    expect(compileClientSchema(s).ok).toBe(true);
    expect(compileClientSchema(s).ok).toBe(true);
  });
});
