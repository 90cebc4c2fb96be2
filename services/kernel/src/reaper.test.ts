// The reaper against a real nats-server and Redis: its view of unfinished tasks read from KV
// sy_tasks headers-only, a verdict that survives the death of the kernel applying it, and a
// round check's outcome whose effects a kernel's death must not lose now that no second index
// outlives the record write (ARCHITECTURE.md §5). A kernel "dies" here by failing the publish
// after its record write, so its command or request is not answered, as after a death.
import { type ReaperVerdict, RunPlan, STREAMS, subjects, type TaskRecord, WorkItem } from "@switchyard/contracts";
import { type NatsServer, type RedisServer, startNats, startRedis } from "@switchyard/devkit";
import {
  connectNats,
  connectRedis,
  createLogger,
  createMetrics,
  ensureTopology,
  type JetStreamClient,
  type NatsConnection,
  newTaskId,
  type Redis,
  type Topology,
} from "@switchyard/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consumeCommands, ensureCommandConsumer } from "./commands.ts";
import { Kernel } from "./kernel.ts";
import { KeyedLock } from "./keyed-lock.ts";
import { Reaper } from "./reaper.ts";
import { TaskStore } from "./task-store.ts";
import { T0, taskRecord } from "./test-fixtures.ts";

const log = createLogger("reaper-test", { level: "silent", format: "json" });
const KIND = "reaper-test";
const plan = RunPlan.parse({
  v: 1,
  agent: "hello",
  agent_kind: "llm",
  model: "scripted",
  instructions: "",
  tools: [],
  executor: { type: "local" },
  runner_kind: KIND,
  limits: {},
  retry: { max_attempts: 3 },
});
const task = (status: TaskRecord["status"], overrides: Partial<TaskRecord> = {}): TaskRecord =>
  taskRecord(status, { id: newTaskId(), runner_kind: KIND, plan, updated_at: new Date().toISOString(), ...overrides });

describe("Reaper", () => {
  let nats: NatsServer;
  let redisServer: RedisServer;
  let nc: NatsConnection;
  let redis: Redis;
  let topo: Topology;
  beforeAll(async () => {
    [nats, redisServer] = await Promise.all([startNats(), startRedis()]);
    nc = await connectNats(nats.url, "reaper-test", log);
    redis = connectRedis(redisServer.url, log);
    topo = await ensureTopology(nc, { EVENTS_MAX_AGE_HOURS: 1, EVENTS_MAX_MB: 16, CMD_DUPLICATE_WINDOW_S: 60 });
    await ensureCommandConsumer(topo.jsm);
  }, 30_000);
  afterAll(async () => {
    redis?.disconnect();
    await nc?.close();
    await Promise.all([nats?.stop(), redisServer?.stop()]);
  });

  const viewOf = (reaper: Reaper, id: string) => [...reaper.activeTasks()].find((e) => e.task_id === id);

  it("knows the unfinished tasks from the record writes alone, the ones before its start and a record without a view included", async () => {
    const store = new TaskStore(topo.tasks, topo.js);
    const queued = task("queued");
    const running = task("running", { run_id: "run-a", started_at: T0 });
    const done = task("completed", { finished_at: T0 });
    for (const t of [queued, running, done]) expect(await store.create(t)).toBe(true);
    // Written by a kernel from before the view header (a plain KV put).
    const legacy = task("input_required");
    await topo.tasks.put(legacy.id, JSON.stringify(legacy));

    const reaper = new Reaper({ js: topo.js, store, redis, log }, { leaseGraceMs: 60_000, intervalMs: 3_600_000, queueTimeoutMs: 0, retentionMs: 3_600_000 });
    await reaper.start();
    try {
      expect((await reaper.caughtUp).records).toBeGreaterThanOrEqual(4);
      await expect.poll(() => viewOf(reaper, legacy.id)?.status, { message: "the record without a view is read" }).toBe("input_required");
      expect(viewOf(reaper, queued.id)).toMatchObject({ status: "queued", attempt: 1, runner_kind: KIND });
      expect(viewOf(reaper, running.id)).toMatchObject({ status: "running", run_id: "run-a" });
      expect(viewOf(reaper, done.id), "a finished task is not tracked").toBeUndefined();

      await store.mutate(queued.id, (t) => ({ ...t, status: "running", run_id: "run-b" }));
      await store.mutate(running.id, (t) => ({ ...t, status: "failed", finished_at: T0 }));
      await expect.poll(() => viewOf(reaper, queued.id)?.run_id).toBe("run-b");
      await expect.poll(() => viewOf(reaper, running.id), { message: "gone once finished" }).toBeUndefined();
    } finally {
      reaper.stop();
    }
  });

  it("declares a lost run by a command that a kernel dying before its effects leaves to the next one, which dispatches the new attempt", {
    timeout: 30_000,
  }, async () => {
    const store = new TaskStore(topo.tasks, topo.js);
    const lost = task("running", { run_id: "run-lost", node_id: "node-gone", started_at: T0 });
    expect(await store.create(lost)).toBe(true);

    const verdicts: ReaperVerdict[] = [];
    const watch = nc.subscribe(subjects.reap, {
      callback: (_e, m) => {
        verdicts.push(m.json<ReaperVerdict>());
      },
    });
    // No lease in Redis for run-lost: after the grace, the reaper sends the verdict.
    const reaper = new Reaper({ js: topo.js, store, redis, log }, { leaseGraceMs: 0, intervalMs: 50, queueTimeoutMs: 0, retentionMs: 3_600_000 });
    await reaper.start();

    // Kernel A writes the record, then "dies" before its effects: its dispatch never goes out
    // (here it fails instead, so its command is not acked and comes back, as after a death).
    const dying: JetStreamClient = new Proxy(topo.js, {
      get(target, prop, receiver) {
        if (prop !== "publish") return Reflect.get(target, prop, receiver);
        return (subject: string, ...rest: unknown[]) =>
          subject.startsWith("sy.work.") ? Promise.reject(new Error("kernel died")) : (target.publish as (...a: unknown[]) => unknown)(subject, ...rest);
      },
    });
    const kernelOn = (js: JetStreamClient) =>
      new Kernel({ nc, js, store: new TaskStore(topo.tasks, js), idempotency: topo.idempotency, log, spawnerTimeoutMs: 1000, commandRetryMs: 100 });
    const consume = (kernel: Kernel) =>
      consumeCommands({ js: topo.js, kernel, lock: new KeyedLock(), concurrency: 4, log, metrics: createMetrics("kernel-test") });
    try {
      const a = await consume(kernelOn(dying));
      await expect.poll(() => a.stats.failed, { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
      await a.stop();
      expect((await store.get(lost.id))?.task, "kernel A wrote the record").toMatchObject({ status: "queued", attempt: 2, error: { code: "runner_lost" } });
      expect(verdicts.filter((v) => v.task_id === lost.id)).toEqual([{ v: 1, verdict: "run_lost", task_id: lost.id, attempt: 1, run_id: "run-lost" }]);

      // Kernel B gets the verdict again: nothing to change in the record, the effects go out.
      const b = await consume(kernelOn(topo.js));
      try {
        await expect
          .poll(
            async () => {
              const m = await topo.jsm.streams.getMessage(STREAMS.work, { last_by_subj: subjects.work(KIND) }).catch(() => null);
              return m ? WorkItem.parse(m.json()) : null;
            },
            { timeout: 10_000 },
          )
          .toMatchObject({ task_id: lost.id, attempt: 2 });
        expect(b.stats.handled).toBeGreaterThanOrEqual(1);
      } finally {
        await b.stop();
      }
    } finally {
      reaper.stop();
      watch.unsubscribe();
    }
  });

  it("repeats a round check's terminal outcome when the round is asked again after its kernel died before the effects", { timeout: 30_000 }, async () => {
    // Without a second index, nothing else would announce this record: the reaper drops a finished task.
    const store = new TaskStore(topo.tasks, topo.js);
    const t = task("running", { run_id: "run-r", node_id: "node-a", started_at: T0, plan: { ...plan, limits: { ...plan.limits, max_tokens: 10 } } });
    expect(await store.create(t)).toBe(true);
    const noEvents: JetStreamClient = new Proxy(topo.js, {
      get(target, prop, receiver) {
        if (prop !== "publish") return Reflect.get(target, prop, receiver);
        return (subject: string, ...rest: unknown[]) =>
          subject.startsWith("sy.events.") ? Promise.reject(new Error("kernel died")) : (target.publish as (...a: unknown[]) => unknown)(subject, ...rest);
      },
    });
    const kernelOn = (js: JetStreamClient) =>
      new Kernel({ nc, js, store: new TaskStore(topo.tasks, js), idempotency: topo.idempotency, log, spawnerTimeoutMs: 1000, commandRetryMs: 100 });
    const round = {
      v: 1 as const,
      task_id: t.id,
      run_id: "run-r",
      attempt: 1,
      round: 1,
      usage: { input_tokens: 10, output_tokens: 10, total_tokens: 20 },
      calls: [],
      checkpoint: null,
      can_park: true,
    };
    await expect(kernelOn(noEvents).round(round), "kernel A wrote the record, then died").rejects.toThrow("kernel died");
    expect((await store.get(t.id))?.task).toMatchObject({ status: "failed", error: { code: "budget_exceeded" } });
    const lastStatus = async () => {
      const m = await topo.jsm.streams.getMessage(STREAMS.events, { last_by_subj: subjects.events(t.tenant, t.agent, t.id) }).catch(() => null);
      return m ? (m.json<{ data: { status?: string } }>().data.status ?? null) : null;
    };
    expect(await lastStatus(), "no terminal event yet").toBeNull();

    // The runner asks again (it got no verdict): kernel B says stop and publishes the event.
    expect(await kernelOn(topo.js).round(round)).toMatchObject({ verdict: "stop", reason: "terminal" });
    expect(await lastStatus()).toBe("failed");
  });
});
