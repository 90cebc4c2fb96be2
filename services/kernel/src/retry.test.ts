import type { RetryPolicy, WireError } from "@switchyard/contracts";
import { describe, expect, it } from "vitest";
import { backoffMs, shouldRetry } from "./retry.ts";

const policy: RetryPolicy = { max_attempts: 3, initial_backoff_ms: 500, max_backoff_ms: 30_000 };
const retryable: WireError = { code: "runner_error", message: "lost", retryable: true };
const fatal: WireError = { code: "model_error", message: "bad", retryable: false };

describe("shouldRetry", () => {
  it("retries a retryable error while attempts remain", () => {
    expect(shouldRetry(retryable, 1, policy)).toBe(true);
    expect(shouldRetry(retryable, 2, policy)).toBe(true);
  });

  it("stops at max_attempts", () => {
    expect(shouldRetry(retryable, 3, policy)).toBe(false);
    expect(shouldRetry(retryable, 4, policy)).toBe(false);
    expect(shouldRetry(retryable, 1, { ...policy, max_attempts: 1 })).toBe(false);
  });

  it("never retries a non-retryable error, whatever its code", () => {
    expect(shouldRetry(fatal, 1, policy)).toBe(false);
    expect(shouldRetry({ code: "unavailable", message: "x", retryable: false }, 1, policy)).toBe(false);
  });
});

describe("backoffMs", () => {
  const lo = () => 0;
  const hi = () => 1;

  it("attempt 1 waits between half the initial backoff and all of it", () => {
    expect(backoffMs(policy, 1, lo)).toBe(250);
    expect(backoffMs(policy, 1, hi)).toBe(500);
    expect(backoffMs(policy, 1, () => 0.5)).toBe(375);
  });

  it("doubles per attempt", () => {
    expect([1, 2, 3, 4, 5].map((a) => backoffMs(policy, a, hi))).toEqual([500, 1000, 2000, 4000, 8000]);
    expect([1, 2, 3, 4, 5].map((a) => backoffMs(policy, a, lo))).toEqual([250, 500, 1000, 2000, 4000]);
  });

  it("is capped by max_backoff_ms", () => {
    expect(backoffMs(policy, 7, hi)).toBe(30_000); // 500·2^6 = 32 000 → capped
    expect(backoffMs(policy, 7, lo)).toBe(15_000);
    expect(backoffMs(policy, 60, hi)).toBe(30_000);
    expect(backoffMs({ ...policy, max_backoff_ms: 700 }, 2, hi)).toBe(700);
  });

  it("treats attempt 0 like attempt 1 and a zero initial backoff as no wait", () => {
    expect(backoffMs(policy, 0, hi)).toBe(500);
    expect(backoffMs({ ...policy, initial_backoff_ms: 0 }, 5, hi)).toBe(0);
  });

  it("uses Math.random by default and stays within bounds", () => {
    for (let i = 0; i < 50; i++) {
      const ms = backoffMs(policy, 3);
      expect(ms).toBeGreaterThanOrEqual(1000);
      expect(ms).toBeLessThanOrEqual(2000);
    }
  });
});
