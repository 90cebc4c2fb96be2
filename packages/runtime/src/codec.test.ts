import { describe, expect, it } from "vitest";
import { z } from "zod";
import { decodeJson, encodeJson } from "./codec.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const Msg = z.object({ v: z.literal(1), task: z.object({ id: z.string(), tries: z.number().int() }), tags: z.array(z.string()).default([]) });

describe("encodeJson / decodeJson", () => {
  it("round-trips a valid value and applies schema defaults", () => {
    const r = decodeJson(Msg, encodeJson({ v: 1, task: { id: "t", tries: 2 } }));
    expect(r).toEqual({ ok: true, value: { v: 1, task: { id: "t", tries: 2 }, tags: [] } });
  });

  it("encodes UTF-8 JSON", () => {
    expect(new TextDecoder().decode(encodeJson({ s: "é✓" }))).toBe('{"s":"é✓"}');
  });

  it.each([
    ["garbage", enc("not json at all")],
    ["an empty payload", enc("")],
    ["truncated JSON", enc('{"v":1,')],
    ["invalid UTF-8", new Uint8Array([0xff, 0xfe, 0x7b, 0x7d])],
  ])("reports %s as not JSON", (_what, bytes) => {
    const r = decodeJson(Msg, bytes);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/^not JSON: /);
  });

  it("reports a schema mismatch naming the path", () => {
    const r = decodeJson(Msg, enc('{"v":1,"task":{"id":"t","tries":"two"}}'));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/^task\.tries: /);
  });

  it("reports several mismatches, at most five", () => {
    const Wide = z.object(Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`f${i}`, z.string()])));
    const r = decodeJson(Wide, enc("{}"));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      const parts = r.reason.split("; ");
      expect(parts).toHaveLength(5);
      expect(parts.map((p) => p.split(":")[0])).toEqual(["f0", "f1", "f2", "f3", "f4"]);
    }
  });

  it("reports a root-level mismatch as (root)", () => {
    const r = decodeJson(Msg, enc("[1,2]"));
    expect(r).toEqual({ ok: false, reason: expect.stringMatching(/^\(root\): /) });
  });

  it.each(["null", "42", '"str"', "true", '{"__proto__":{"polluted":1}}', "[".repeat(10_000)])("never throws, even on %s", (text) => {
    expect(() => decodeJson(Msg, enc(text))).not.toThrow();
    expect(decodeJson(Msg, enc(text)).ok).toBe(false);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
