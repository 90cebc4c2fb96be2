import type { TaskRecord, TaskStatus } from "@switchyard/contracts";
import { describe, expect, it } from "vitest";
import { IllegalTransitionError, transition } from "./state-machine.ts";
import { T0, taskRecord } from "./test-fixtures.ts";

const NOW = "2025-01-01T00:01:00.000Z";

function task(status: TaskStatus, overrides: Partial<TaskRecord> = {}): TaskRecord {
  return taskRecord(status, overrides);
}

describe("transition", () => {
  it("moves to the new status, stamps updated_at and applies the patch", () => {
    const before = task("queued");
    const after = transition(before, "running", { run_id: "r1", node_id: "n1", started_at: NOW }, NOW);
    expect(after).toEqual({ ...before, status: "running", run_id: "r1", node_id: "n1", started_at: NOW, updated_at: NOW, finished_at: null });
  });

  it("does not mutate its input", () => {
    const before = task("queued");
    const copy = structuredClone(before);
    transition(before, "running", { run_id: "r1" }, NOW);
    expect(before).toEqual(copy);
  });

  it.each(["completed", "failed", "canceled"] as const)("sets finished_at when entering %s", (to) => {
    const after = transition(task("running"), to, {}, NOW);
    expect(after.status).toBe(to);
    expect(after.finished_at).toBe(NOW);
    expect(after.updated_at).toBe(NOW);
  });

  it.each([
    ["queued", "running"],
    ["running", "queued"],
    ["running", "input_required"],
    ["input_required", "running"],
  ] as const)("leaves finished_at alone for the non-terminal move %s → %s", (from, to) => {
    expect(transition(task(from), to, {}, NOW).finished_at).toBeNull();
  });

  it("a patch cannot override the status or the clock", () => {
    const after = transition(task("running"), "completed", { status: "running", updated_at: T0, finished_at: T0 }, NOW);
    expect(after.status).toBe("completed");
    expect(after.updated_at).toBe(NOW);
    expect(after.finished_at).toBe(NOW);
  });

  it("uses the current time when no clock is given", () => {
    const lo = Date.now();
    const after = transition(task("queued"), "canceled");
    const at = Date.parse(after.updated_at);
    expect(at).toBeGreaterThanOrEqual(lo);
    expect(at).toBeLessThanOrEqual(Date.now());
    expect(after.finished_at).toBe(after.updated_at);
  });

  it.each([
    ["completed", "running"],
    ["failed", "queued"],
    ["canceled", "canceled"],
    ["queued", "completed"],
    ["queued", "input_required"],
    ["queued", "queued"],
  ] as const)("throws IllegalTransitionError for %s → %s", (from, to) => {
    let caught: unknown;
    try {
      transition(task(from), to, {}, NOW);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(IllegalTransitionError);
    const e = caught as IllegalTransitionError;
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe("IllegalTransitionError");
    expect(e.code).toBe("illegal_transition");
    expect(e.from).toBe(from);
    expect(e.to).toBe(to);
    expect(e.message).toBe(`illegal transition ${from} → ${to}`);
  });
});
