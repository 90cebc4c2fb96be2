// A task record for unit tests: every field at its empty value, overridable.
import type { TaskRecord, TaskStatus } from "@switchyard/contracts";

export const T0 = "2025-01-01T00:00:00.000Z";

export function taskRecord(status: TaskStatus, overrides: Partial<TaskRecord> = {}): TaskRecord {
  return {
    v: 1,
    id: "01a201a7-9eed-72ff-9d64-122373e39111",
    tenant: "acme",
    agent: "hello",
    input: "hi",
    executor: { type: "local" },
    runner_kind: "local",
    status,
    attempt: 1,
    run_id: null,
    node_id: null,
    created_at: T0,
    updated_at: T0,
    started_at: null,
    finished_at: null,
    result: null,
    error: null,
    usage: { input_tokens: 0, output_tokens: 0, total_tokens: 0 },
    metadata: {},
    idempotency_key: null,
    plan: null,
    checkpoint: null,
    not_before: null,
    pending: null,
    answered: [],
    resumes: 0,
    ...overrides,
  };
}
