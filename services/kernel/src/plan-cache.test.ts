import type { RunPlan } from "@switchyard/contracts";
import { describe, expect, it } from "vitest";
import { PlanCache, trustedSource } from "./plan-cache.ts";

const plan = { v: 1, agent: "a" } as unknown as RunPlan;

describe("PlanCache", () => {
  it("hits only the exact key, revision and executor override it was given", () => {
    const cache = new PlanCache();
    const source = { key: "acme.a", revision: 7 };
    cache.set(source, undefined, plan);
    expect(cache.get(source, undefined)).toBe(plan);
    expect(cache.get({ ...source, revision: 8 }, undefined)).toBeUndefined();
    expect(cache.get(source, { type: "local" })).toBeUndefined();
    expect(cache.get(undefined, undefined)).toBeUndefined();
  });
});

describe("trustedSource", () => {
  it("takes the submitter's own agent or the shared one of that name, nothing else", () => {
    const cmd = (key: string) => ({ tenant: "acme", agent: "a", agent_source: { key, revision: 1 } });
    expect(trustedSource(cmd("acme.a"))).toEqual({ key: "acme.a", revision: 1 });
    expect(trustedSource(cmd("_shared.a"))).toEqual({ key: "_shared.a", revision: 1 });
    expect(trustedSource(cmd("beta.a"))).toBeUndefined(); // another tenant's agent
    expect(trustedSource(cmd("acme.b"))).toBeUndefined(); // another agent
    expect(trustedSource({ tenant: "acme", agent: "a" })).toBeUndefined();
  });
});
