// TaskStore against a real nats-server: compare-and-set writes, and records NATS would refuse.
import type { TaskRecord } from "@switchyard/contracts";
import { type NatsServer, startNats } from "@switchyard/devkit";
import { connectNats, createLogger, ensureTopology, type NatsConnection, newTaskId, type Topology } from "@switchyard/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TaskStore } from "./task-store.ts";
import { T0, taskRecord } from "./test-fixtures.ts";

const log = createLogger("task-store-test", { level: "silent", format: "json" });

function task(overrides: Partial<TaskRecord> = {}): TaskRecord {
  return taskRecord("running", { id: newTaskId(), run_id: "run-1", node_id: "node-a", started_at: T0, ...overrides });
}
const checkpoint = (chars: number) => ({
  round: 3,
  messages: [{ role: "assistant" as const, content: "x".repeat(chars) }],
  usage: { input_tokens: 1, output_tokens: 2, total_tokens: 3 },
});

describe("TaskStore", () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let topo: Topology;
  beforeAll(async () => {
    nats = await startNats();
    nc = await connectNats(nats.url, "task-store-test", log);
    topo = await ensureTopology(nc, { EVENTS_MAX_AGE_HOURS: 1, EVENTS_MAX_MB: 16, CMD_DUPLICATE_WINDOW_S: 60 });
  }, 30_000);
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  it("keeps the checkpoint while running and drops it once the task is finished", async () => {
    const store = new TaskStore(topo.tasks, topo.js, { maxBytes: 64 * 1024 });
    const t = task();
    expect(await store.create(t)).toBe(true);
    expect(await store.create(t), "a second create of the same id").toBe(false);
    await store.mutate(t.id, (cur) => ({ ...cur, checkpoint: checkpoint(1000) }));
    expect((await store.get(t.id))?.task.checkpoint?.round).toBe(3);
    const done = await store.mutate(t.id, (cur) => ({ ...cur, status: "completed", result: { text: "ok" }, finished_at: T0 }));
    expect(done?.after).toMatchObject({ status: "completed", checkpoint: null, result: { text: "ok" } });
    expect((await store.get(t.id))?.task).toMatchObject({ status: "completed", checkpoint: null, result: { text: "ok" } });
  });

  it("never loses another replica's write, and never decides on its own stale copy", async () => {
    const a = new TaskStore(topo.tasks, topo.js);
    const b = new TaskStore(topo.tasks, topo.js);
    // A wrote last, then B changed the task: A's compare-and-set from its copy must fail and
    // its decision be made again on B's record.
    const t = task();
    await a.create(t);
    await b.mutate(t.id, (cur) => ({ ...cur, status: "completed", result: { text: "by b" }, finished_at: T0 }));
    const seen: string[] = [];
    const res = await a.mutate(t.id, (cur) => {
      seen.push(cur.status);
      return cur.status === "running" ? { ...cur, checkpoint: checkpoint(10) } : null;
    });
    expect(seen).toEqual(["running", "completed"]);
    expect(res).toMatchObject({ changed: false, after: { status: "completed" } });
    expect((await a.get(t.id))?.task).toMatchObject({ status: "completed", result: { text: "by b" } });

    // A's copy says "no change" (queued), but B has moved it on: A decides again on the store.
    const u = task({ status: "queued", run_id: null, node_id: null, started_at: null });
    await a.create(u);
    await b.mutate(u.id, (cur) => ({ ...cur, status: "running", run_id: "run-b" }));
    const res2 = await a.mutate(u.id, (cur) => (cur.status === "running" ? { ...cur, checkpoint: checkpoint(10) } : null));
    expect(res2).toMatchObject({ changed: true, after: { status: "running", run_id: "run-b" } });
    expect((await b.get(u.id))?.task.checkpoint?.round).toBe(3);
    // And a change on a copy nobody else touched needs no read and is still a compare-and-set.
    const res3 = await a.mutate(u.id, (cur) => ({ ...cur, usage: { input_tokens: 7, output_tokens: 0, total_tokens: 7 } }));
    expect(res3?.changed).toBe(true);
    expect((await b.get(u.id))?.task).toMatchObject({ run_id: "run-b", usage: { total_tokens: 7 }, checkpoint: { round: 3 } });
  });

  it("takes a no-change decision on its own copy only when the caller says that is harmless", async () => {
    const a = new TaskStore(topo.tasks, topo.js);
    const b = new TaskStore(topo.tasks, topo.js);
    const t = task();
    await a.create(t);
    await b.mutate(t.id, (cur) => ({ ...cur, status: "canceled", finished_at: T0 }));
    const seen: string[] = [];
    const decide = (cur: TaskRecord) => {
      seen.push(cur.status);
      return null;
    };
    await a.mutate(t.id, decide, { noChangeOnCopy: () => true });
    expect(seen, "accepted on the copy: no read").toEqual(["running"]);
    await a.mutate(t.id, decide, { noChangeOnCopy: () => false });
    expect(seen, "refused on the copy: decided again on the store").toEqual(["running", "running", "canceled"]);
  });

  it("fails a task whose record NATS would refuse with task_too_large, instead of retrying the write forever", async () => {
    const store = new TaskStore(topo.tasks, topo.js, { maxBytes: 16 * 1024 });
    const t = task();
    await store.create(t);
    const res = await store.mutate(t.id, (cur) => ({ ...cur, checkpoint: checkpoint(40 * 1024) }));
    expect(res?.changed).toBe(true);
    const stored = (await store.get(t.id))?.task;
    expect(stored).toMatchObject({ status: "failed", checkpoint: null, result: null, error: { code: "task_too_large", retryable: false } });
    expect(stored?.error?.message).toMatch(/more than NATS accepts \(16384\)/);
    expect(stored?.finished_at).not.toBeNull();

    // A completed task whose result is too large ends failed too, not completed without its result.
    const u = task();
    await store.create(u);
    await store.mutate(u.id, (cur) => ({ ...cur, status: "completed", result: { text: "y".repeat(40 * 1024) }, finished_at: T0 }));
    expect((await store.get(u.id))?.task).toMatchObject({ status: "failed", result: null, error: { code: "task_too_large" } });
  });
});
