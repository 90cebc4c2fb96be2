import type { ApprovalPolicy } from "@switchyard/contracts";
import { describe, expect, it } from "vitest";
import { approvalNeed, argAt } from "./approval.ts";

const need = (policy: ApprovalPolicy, tool: string, args: Record<string, unknown> = {}) => approvalNeed(policy, tool, args).needed;

describe("approvalNeed", () => {
  it("always and never", () => {
    expect(need({ policy: "always" }, "echo")).toBe(true);
    expect(need({ policy: "never" }, "payments.charge")).toBe(false);
  });

  it("pattern: globs on the tool name, with the matching glob in the reason", () => {
    const p: ApprovalPolicy = { policy: "pattern", tools: ["payments.*", "delete_*"] };
    expect(approvalNeed(p, "payments.charge", {})).toEqual({ needed: true, reason: "tool 'payments.charge' matches 'payments.*'" });
    expect(need(p, "delete_user")).toBe(true);
    expect(need(p, "payments")).toBe(false);
    expect(need(p, "echo")).toBe(false);
    expect(need(p, "xpayments.charge")).toBe(false);
  });

  it("threshold: above the limit, or missing / not a number, needs approval; only for the covered tools", () => {
    const p: ApprovalPolicy = { policy: "threshold", tools: ["payments.*"], arg: "payment.amount", limit: 100 };
    expect(need(p, "payments.charge", { payment: { amount: 100 } })).toBe(false);
    expect(approvalNeed(p, "payments.charge", { payment: { amount: 250 } })).toEqual({ needed: true, reason: "payment.amount 250 is above the limit 100" });
    expect(need(p, "payments.charge", { payment: { amount: "250" } })).toBe(true);
    expect(need(p, "payments.charge", {})).toBe(true);
    expect(need(p, "echo", { payment: { amount: 1e9 } })).toBe(false);
  });

  it("composite: all / any, nested", () => {
    const big: ApprovalPolicy = { policy: "threshold", tools: ["*"], arg: "amount", limit: 10 };
    const pay: ApprovalPolicy = { policy: "pattern", tools: ["payments.*"] };
    const all: ApprovalPolicy = { policy: "composite", mode: "all", policies: [pay, big] };
    const any: ApprovalPolicy = { policy: "composite", mode: "any", policies: [pay, big] };
    expect(need(all, "payments.charge", { amount: 50 })).toBe(true);
    expect(need(all, "payments.charge", { amount: 5 })).toBe(false);
    expect(need(all, "echo", { amount: 50 })).toBe(false);
    expect(need(any, "echo", { amount: 50 })).toBe(true);
    expect(need(any, "payments.charge", { amount: 5 })).toBe(true);
    expect(need(any, "echo", { amount: 5 })).toBe(false);
    const nested: ApprovalPolicy = { policy: "composite", mode: "any", policies: [{ policy: "never" }, all] };
    expect(need(nested, "payments.charge", { amount: 50 })).toBe(true);
  });

  it("argAt reads dotted paths and nothing from the prototype", () => {
    expect(argAt({ a: { b: 2 } }, "a.b")).toBe(2);
    expect(argAt({ a: [1] }, "a.0")).toBeUndefined();
    expect(argAt({}, "constructor")).toBeUndefined();
  });
});
