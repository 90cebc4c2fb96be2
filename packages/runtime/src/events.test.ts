import { StoredEvent } from "@switchyard/contracts";
import { describe, expect, it } from "vitest";
import { buildEvent } from "./events.ts";
import { newTaskId } from "./ids.ts";

describe("buildEvent", () => {
  const target = { tenant: "acme", agent: "hello", task_id: newTaskId() };

  it("builds a stored event for the target task, stamped now", () => {
    const before = Date.now();
    const e = buildEvent(target, "run-1", 2, "text.delta", { round: 1, delta: "hi" });
    expect(e).toEqual({ task_id: target.task_id, run_id: "run-1", attempt: 2, ts: expect.any(String), type: "text.delta", data: { round: 1, delta: "hi" } });
    expect(Object.keys(e).sort()).toEqual(["attempt", "data", "run_id", "task_id", "ts", "type"]);
    const ts = Date.parse(e.ts);
    expect(ts).toBeGreaterThanOrEqual(before);
    expect(ts).toBeLessThanOrEqual(Date.now());
    expect(e.ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it("keeps a null run id (kernel status events)", () => {
    expect(buildEvent(target, null, 1, "status", { status: "queued" }).run_id).toBeNull();
  });

  it("produces events the StoredEvent contract accepts, without tenant or agent in the body", () => {
    const e = buildEvent(target, null, 1, "status", { status: "queued" });
    expect(StoredEvent.strict().safeParse(e).success).toBe(true);
    expect(e).not.toHaveProperty("tenant");
    expect(e).not.toHaveProperty("agent");
  });
});
