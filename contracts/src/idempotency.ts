// Idempotency keys: the KV key under which the kernel records which task a client's
// Idempotency-Key created (KV sy_idem), shared by gateway (reads) and kernel (writes).
import { createHash } from "node:crypto";

export function idempotencyRecordKey(tenant: string, key: string): string {
  return `${tenant}.${createHash("sha256").update(key).digest("hex")}`;
}

/** The Nats-Msg-Id of a submit: the idempotency key when given, else the task id. */
export function submitMsgId(tenant: string, taskId: string, key: string | null): string {
  return key === null ? `submit:${taskId}` : `submit:${idempotencyRecordKey(tenant, key)}`;
}
