import picomatch from "picomatch";
import { describe, expect, it } from "vitest";
import { compileToolGlob, GLOB_CACHE_MAX, toolGlob, toolGlobCacheSize } from "./tool-glob.ts";

describe("compileToolGlob", () => {
  it("matches like the picomatch globs agents were written with", () => {
    const cases: [string, string, boolean][] = [
      ["payments.*", "payments.charge", true],
      ["payments.*", "payments", false],
      ["payments.*", "xpayments.charge", false],
      ["*", "echo", true],
      ["*", ".hidden", true],
      ["delete_*", "delete_user", true],
      ["pay?ents.charge", "payments.charge", true],
      ["pay?ents.charge", "paiments.charges", false],
      ["a.b", "axb", false],
      ["*-tool", "my-tool", true],
    ];
    for (const [glob, name, want] of cases) {
      expect(compileToolGlob(glob)(name), `${glob} vs ${name}`).toBe(want);
      expect(picomatch(glob, { dot: true })(name), `picomatch agrees on ${glob} vs ${name}`).toBe(want);
    }
  });

  it("refuses anything outside the restricted syntax", () => {
    for (const bad of ["payments.{a,b}", "[a-z]*", "a/b", "!(x)", "", "x".repeat(257), "a+b"])
      expect(() => compileToolGlob(bad), bad).toThrow(/not a tool glob/);
  });

  it("matches a hostile glob against a 10k-character name in linear time", () => {
    const hostile = compileToolGlob("*a*a*a*a*a*a*a*b");
    const name = "a".repeat(10_000);
    const t0 = performance.now();
    expect(hostile(name)).toBe(false);
    expect(hostile(`${name}b`)).toBe(true);
    const ms = performance.now() - t0;
    console.log(`[redos] '*a*a*a*a*a*a*a*b' vs 10,000 characters: ${ms.toFixed(1)} ms (picomatch: about 3 s at 50 characters, growing as n^7)`);
    // A bound the backtracking engine misses by orders of magnitude and a loaded machine never reaches.
    expect(ms).toBeLessThan(2000);
  });
});

describe("the glob cache", () => {
  it("is bounded, and keeps a glob that does not compile as its error", () => {
    for (let i = 0; i < GLOB_CACHE_MAX + 100; i++) toolGlob(`tool_${i}.*`);
    expect(toolGlobCacheSize()).toBeLessThanOrEqual(GLOB_CACHE_MAX);
    expect(toolGlob("{a,b}")).toBeInstanceOf(Error);
  });
});
