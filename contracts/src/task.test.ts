import { describe, expect, it } from "vitest";
import { canTransition, isTerminal, type TaskRecord, TaskStatus, TaskView, toTaskView } from "./task.ts";

const ALL = TaskStatus.options;

/** The lifecycle as the kernel relies on it, written out independently of the implementation. */
const LEGAL: Record<TaskStatus, TaskStatus[]> = {
  queued: ["running", "failed", "canceled"],
  running: ["queued", "input_required", "completed", "failed", "canceled"],
  input_required: ["running", "queued", "failed", "canceled"],
  completed: [],
  failed: [],
  canceled: [],
};

describe("canTransition", () => {
  const pairs = ALL.flatMap((from) => ALL.map((to) => [from, to, LEGAL[from].includes(to)] as const));

  it.each(pairs)("%s → %s is legal: %s", (from, to, legal) => {
    expect(canTransition(from, to)).toBe(legal);
  });

  it("covers all six statuses (36 pairs)", () => {
    expect(ALL).toEqual(["queued", "running", "input_required", "completed", "failed", "canceled"]);
    expect(pairs).toHaveLength(36);
  });

  it("never leaves a terminal status", () => {
    for (const from of ["completed", "failed", "canceled"] as const) {
      for (const to of ALL) expect(canTransition(from, to), `${from} → ${to}`).toBe(false);
    }
  });

  it("refuses the classic wrong moves", () => {
    expect(canTransition("completed", "running")).toBe(false);
    expect(canTransition("queued", "completed")).toBe(false);
    expect(canTransition("queued", "input_required")).toBe(false);
    expect(canTransition("queued", "queued")).toBe(false);
    expect(canTransition("running", "running")).toBe(false);
  });
});

describe("isTerminal", () => {
  it.each([
    ["queued", false],
    ["running", false],
    ["input_required", false],
    ["completed", true],
    ["failed", true],
    ["canceled", true],
  ] as const)("%s → %s", (status, terminal) => {
    expect(isTerminal(status)).toBe(terminal);
  });
});

function record(overrides: Partial<TaskRecord> = {}): TaskRecord {
  return {
    v: 1,
    id: "01a201a7-9eed-72ff-9d64-122373e39111",
    tenant: "acme",
    agent: "hello",
    input: "hi",
    executor: { type: "local" },
    runner_kind: "local",
    status: "running",
    attempt: 2,
    run_id: "run-1",
    node_id: "node-7",
    created_at: "2025-01-01T00:00:00.000Z",
    updated_at: "2025-01-01T00:00:01.000Z",
    started_at: "2025-01-01T00:00:00.500Z",
    finished_at: null,
    result: null,
    error: null,
    usage: { input_tokens: 1, output_tokens: 2, total_tokens: 3 },
    metadata: { k: "v" },
    idempotency_key: "idem-1",
    plan: {
      v: 1,
      agent: "hello",
      agent_kind: "llm",
      model: "scripted",
      instructions: "",
      tools: [],
      external_tools: [],
      executor: { type: "local" },
      runner_kind: "local",
      limits: { max_rounds: 16 },
      retry: { max_attempts: 3, initial_backoff_ms: 500, max_backoff_ms: 30_000 },
      approval: { policy: "never" },
    },
    checkpoint: { round: 1, messages: [{ role: "user", content: "hi" }], usage: { input_tokens: 1, output_tokens: 2, total_tokens: 3 } },
    not_before: "2025-01-01T00:00:05.000Z",
    pending: null,
    answered: [],
    resumes: 0,
    ...overrides,
  };
}

describe("toTaskView", () => {
  it("keeps exactly the public fields and drops kernel internals", () => {
    const view = toTaskView(record());
    expect(view).toEqual({
      id: "01a201a7-9eed-72ff-9d64-122373e39111",
      tenant: "acme",
      agent: "hello",
      input: "hi",
      executor: { type: "local" },
      status: "running",
      attempt: 2,
      run_id: "run-1",
      created_at: "2025-01-01T00:00:00.000Z",
      updated_at: "2025-01-01T00:00:01.000Z",
      started_at: "2025-01-01T00:00:00.500Z",
      finished_at: null,
      result: null,
      error: null,
      usage: { input_tokens: 1, output_tokens: 2, total_tokens: 3 },
      metadata: { k: "v" },
      pending: null,
    });
    for (const internal of ["plan", "checkpoint", "idempotency_key", "not_before", "runner_kind", "node_id", "v", "live", "answered", "resumes"]) {
      expect(Object.hasOwn(view, internal), internal).toBe(false);
    }
  });

  it("adds live only when given", () => {
    const live = { node_id: "node-7", round_count: 3, last_tool_name: "echo" };
    expect(toTaskView(record(), live).live).toEqual(live);
    expect(Object.hasOwn(toTaskView(record(), undefined), "live")).toBe(false);
  });

  it("produces something the TaskView schema accepts (strict about nothing extra leaking)", () => {
    const view = toTaskView(record({ status: "failed", error: { code: "model_error", message: "x", retryable: false } }), { status: "failed" });
    expect(TaskView.strict().safeParse(view).success).toBe(true);
  });
});
