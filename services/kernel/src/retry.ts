// Retry decisions belong to the kernel: exponential backoff with jitter, bounded attempts.
import type { RetryPolicy, WireError } from "@switchyard/contracts";

export function shouldRetry(error: WireError, attempt: number, policy: RetryPolicy): boolean {
  return error.retryable && attempt < policy.max_attempts;
}

/** Delay before attempt `attempt + 1`: base doubles per attempt, half of it jittered. */
export function backoffMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const base = Math.min(policy.max_backoff_ms, policy.initial_backoff_ms * 2 ** Math.max(0, attempt - 1));
  return Math.round(base / 2 + random() * (base / 2));
}
