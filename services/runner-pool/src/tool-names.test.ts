import { describe, expect, it } from "vitest";
import { buildToolNameMap, SAFE_TOOL_NAME } from "./tool-names.ts";

describe("tool name mapping", () => {
  it("keeps safe names and maps dotted ones reversibly", () => {
    const m = buildToolNameMap(["echo", "payments.charge", "github.create_issue"]);
    expect(m.toSafe("echo")).toBe("echo");
    expect(m.toSafe("payments.charge")).toBe("payments_charge");
    expect(m.fromSafe("payments_charge")).toBe("payments.charge");
    expect(m.fromSafe(m.toSafe("github.create_issue"))).toBe("github.create_issue");
    expect(m.fromSafe("nope")).toBeNull();
  });

  it("never maps two names to one, and every safe name fits the providers' pattern", () => {
    const names = ["a.b", "a_b", "a-b", "a.b.c", "a_b.c", "x".repeat(100), `${"x".repeat(100)}.y`, "srv.tool/with space", "é.ü"];
    const m = buildToolNameMap(names);
    const safe = names.map((n) => m.toSafe(n));
    expect(new Set(safe).size).toBe(names.length);
    for (const [i, s] of safe.entries()) {
      expect(s).toMatch(SAFE_TOOL_NAME);
      expect(m.fromSafe(s)).toBe(names[i]);
    }
    // An already-safe name keeps its spelling even when a dotted one would take it.
    expect(m.toSafe("a_b")).toBe("a_b");
    expect(m.toSafe("a.b")).not.toBe("a_b");
  });

  it("is the same mapping whatever the order of the names", () => {
    const a = buildToolNameMap(["a.b", "a_b", "c.d"]);
    const b = buildToolNameMap(["c.d", "a_b", "a.b"]);
    for (const n of ["a.b", "a_b", "c.d"]) expect(a.toSafe(n)).toBe(b.toSafe(n));
  });
});
