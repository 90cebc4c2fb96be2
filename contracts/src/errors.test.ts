import { describe, expect, it } from "vitest";
import { z } from "zod";
import { describeZodIssues, ErrorCodes, isRetryableCode, SwitchyardError, WireError } from "./errors.ts";

describe("isRetryableCode", () => {
  it("retries only transient infrastructure failures", () => {
    const retryable = Object.keys(ErrorCodes).filter(isRetryableCode);
    expect(retryable.sort()).toEqual(["operator_unavailable", "runner_error", "unavailable"]);
    expect(isRetryableCode("something_else")).toBe(false);
  });
});

describe("SwitchyardError", () => {
  it("is an Error with name, code, cause and a retryable flag from the catalogue", () => {
    const cause = new Error("socket closed");
    const e = new SwitchyardError("unavailable", "nats down", { cause });
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe("SwitchyardError");
    expect(e.code).toBe("unavailable");
    expect(e.cause).toBe(cause);
    expect(e.retryable).toBe(true);
    expect(new SwitchyardError("bad_request", "no").retryable).toBe(false);
  });

  it("lets the caller override retryability", () => {
    expect(new SwitchyardError("model_error", "x", { retryable: true }).retryable).toBe(true);
    expect(new SwitchyardError("unavailable", "x", { retryable: false }).retryable).toBe(false);
  });

  it("toWire is plain data, with details only when set", () => {
    const plain = new SwitchyardError("tool_error", "bad args").toWire();
    expect(plain).toEqual({ code: "tool_error", message: "bad args", retryable: false });
    expect(Object.hasOwn(plain, "details")).toBe(false);
    expect(Object.getPrototypeOf(plain)).toBe(Object.prototype);

    const detailed = new SwitchyardError("invalid_agent", "bad", { details: [{ path: "name", message: "m" }], cause: new Error("c") }).toWire();
    expect(detailed).toEqual({ code: "invalid_agent", message: "bad", retryable: false, details: [{ path: "name", message: "m" }] });
    expect(WireError.strict().safeParse(detailed).success).toBe(true);
    expect(JSON.parse(JSON.stringify(detailed))).toEqual(detailed);
  });
});

describe("describeZodIssues", () => {
  it("joins nested paths with dots, array indexes included", () => {
    const schema = z.object({ a: z.object({ b: z.array(z.object({ c: z.number() })) }), d: z.string() });
    const r = schema.safeParse({ a: { b: [{ c: 1 }, { c: "x" }] }, d: 5 });
    expect(r.success).toBe(false);
    const items = describeZodIssues(r.error as z.ZodError);
    expect(items.map((i) => i.path)).toEqual(["a.b.1.c", "d"]);
    expect(items.every((i) => typeof i.message === "string" && i.message.length > 0)).toBe(true);
  });

  it("labels a root-level failure (root)", () => {
    const r = z.string().safeParse(42);
    expect(describeZodIssues(r.error as z.ZodError)).toEqual([{ path: "(root)", message: expect.any(String) }]);
  });

  it("keeps custom messages", () => {
    const r = z
      .string()
      .refine(() => false, { message: "nope", path: ["x"] })
      .safeParse("s");
    expect(describeZodIssues(r.error as z.ZodError)).toEqual([{ path: "x", message: "nope" }]);
  });
});
