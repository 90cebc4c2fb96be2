import { SwitchyardError } from "@switchyard/contracts";
import { describe, expect, it } from "vitest";
import { BUILTIN_TOOLS } from "./tools.ts";

const signal = () => new AbortController().signal;

describe("BUILTIN_TOOLS", () => {
  it("offers echo, sleep and the simulated payments.charge", () => {
    expect(Object.keys(BUILTIN_TOOLS).sort()).toEqual(["echo", "payments.charge", "sleep"]);
  });

  it("payments.charge answers like a provider, and refuses a bad amount", async () => {
    expect(await BUILTIN_TOOLS["payments.charge"]?.({ amount: 42, currency: "USD" }, signal())).toEqual({
      status: "charged",
      amount: 42,
      currency: "USD",
      simulated: true,
    });
    await expect(BUILTIN_TOOLS["payments.charge"]?.({ amount: -1 }, signal())).rejects.toThrow(/amount/);
  });

  it("echo returns its arguments", async () => {
    const args = { q: "cats", n: 2, nested: { a: [1, 2] } };
    expect(await BUILTIN_TOOLS.echo?.(args, signal())).toEqual({ q: "cats", n: 2, nested: { a: [1, 2] } });
  });

  it("sleep waits and reports how long", async () => {
    expect(await BUILTIN_TOOLS.sleep?.({ ms: 5 }, signal())).toEqual({ slept_ms: 5 });
    expect(await BUILTIN_TOOLS.sleep?.({ ms: 0 }, signal())).toEqual({ slept_ms: 0 });
  });

  it.each([[{}], [{ ms: "10" }], [{ ms: -1 }], [{ ms: Number.NaN }], [{ ms: Number.POSITIVE_INFINITY }], [{ ms: 3_600_001 }], [{ ms: null }]])(
    "sleep rejects %j with a non-retryable tool_error",
    async (args) => {
      const err = await BUILTIN_TOOLS.sleep?.(args, signal()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SwitchyardError);
      expect((err as SwitchyardError).toWire()).toEqual({ code: "tool_error", message: "sleep: 'ms' must be a number from 0 to 3600000", retryable: false });
    },
  );

  it("sleep ends at once when the run is aborted", { timeout: 2000 }, async () => {
    const ac = new AbortController();
    const reason = new Error("stop");
    setTimeout(() => ac.abort(reason), 10);
    await expect(BUILTIN_TOOLS.sleep?.({ ms: 3_600_000 }, ac.signal)).rejects.toBe(reason);
  });
});
