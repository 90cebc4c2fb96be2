import { describe, expect, it } from "vitest";
import { idempotencyRecordKey, submitMsgId } from "./idempotency.ts";

const KV_KEY = /^[-/_=.a-zA-Z0-9]+$/;

describe("idempotencyRecordKey", () => {
  it("is stable for the same tenant and key", () => {
    expect(idempotencyRecordKey("acme", "order-42")).toBe(idempotencyRecordKey("acme", "order-42"));
  });

  it("is the tenant, a dot and the sha256 of the key", () => {
    // sha256("abc"), a standard test vector.
    expect(idempotencyRecordKey("acme", "abc")).toBe("acme.ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  it("is tenant-scoped: the same client key in two tenants gives two records", () => {
    expect(idempotencyRecordKey("acme", "k")).not.toBe(idempotencyRecordKey("beta", "k"));
    expect(idempotencyRecordKey("acme", "k1")).not.toBe(idempotencyRecordKey("acme", "k2"));
  });

  it.each(["plain", "with spaces and * > wildcards", "ünïcödé ✓", "a/b:c@d", "", "x".repeat(10_000)])("yields a valid KV key for %j", (key) => {
    const k = idempotencyRecordKey("tenant_1", key);
    expect(k).toMatch(KV_KEY);
    expect(k.length).toBe("tenant_1.".length + 64);
  });
});

describe("submitMsgId", () => {
  it("uses the idempotency record key when a key is given, the task id otherwise", () => {
    expect(submitMsgId("acme", "tid", "abc")).toBe("submit:acme.ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(submitMsgId("acme", "tid", null)).toBe("submit:tid");
  });

  it("makes two submits with the same key in one tenant collide, and nothing else", () => {
    expect(submitMsgId("acme", "t1", "k")).toBe(submitMsgId("acme", "t2", "k"));
    expect(submitMsgId("acme", "t1", "k")).not.toBe(submitMsgId("beta", "t1", "k"));
    expect(submitMsgId("acme", "t1", null)).not.toBe(submitMsgId("acme", "t2", null));
  });
});
