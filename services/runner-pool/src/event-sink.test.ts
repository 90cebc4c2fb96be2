// The runner's event path against a real nats-server and redis-server: events emitted in bursts
// (published together per macrotask) land in SY_EVENTS complete and in order, and the replay
// cache merges one macrotask's updates without losing a field or reordering critical events.
import { DeliverPolicy } from "@nats-io/jetstream";
import { CRITICAL_RING_SIZE, EventHeaders, redisKeys, STREAMS, subjects } from "@switchyard/contracts";
import { type NatsServer, type RedisServer, startNats, startRedis } from "@switchyard/devkit";
import {
  buildEvent,
  connectNats,
  connectRedis,
  createLogger,
  ensureTopology,
  type NatsConnection,
  newTaskId,
  type Redis,
  type Topology,
} from "@switchyard/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventSink } from "./event-sink.ts";
import { ReplayCache } from "./replay-cache.ts";

const log = createLogger("event-sink-test", { level: "silent", format: "json" });

describe("EventSink and ReplayCache", () => {
  let nats: NatsServer;
  let redisServer: RedisServer;
  let nc: NatsConnection;
  let topo: Topology;
  let redis: Redis;
  beforeAll(async () => {
    [nats, redisServer] = await Promise.all([startNats(), startRedis()]);
    nc = await connectNats(nats.url, "event-sink-test", log);
    topo = await ensureTopology(nc, { EVENTS_MAX_AGE_HOURS: 1, EVENTS_MAX_MB: 64, CMD_DUPLICATE_WINDOW_S: 60 });
    redis = connectRedis(redisServer.url, log);
  }, 30_000);
  afterAll(async () => {
    redis?.disconnect();
    await nc?.close();
    await Promise.all([nats?.stop(), redisServer?.stop()]);
  });

  it("stores every event of bursty emits, in emit order, with the run's headers", async () => {
    const target = { tenant: "acme", agent: "hello", task_id: newTaskId() };
    const cache = new ReplayCache(redis, target.task_id, log);
    const sink = new EventSink(topo.js, target, "run-1", 1, cache, 64);
    const n = 1000;
    // Bursts of 50 in one macrotask, then a hop: both the batch path and the window wait run.
    for (let i = 0; i < n; i++) {
      await sink.emit("text.delta", { round: 1, delta: `d${i}` });
      if (i % 50 === 49) await new Promise((r) => setImmediate(r));
    }
    await sink.flush();

    const consumer = await topo.js.consumers.get(STREAMS.events, {
      filter_subjects: subjects.events(target.tenant, target.agent, target.task_id),
      deliver_policy: DeliverPolicy.All,
    });
    const got: string[] = [];
    const msgs = await consumer.fetch({ max_messages: n + 10, expires: 2000 });
    for await (const m of msgs) {
      expect(m.headers?.get(EventHeaders.runId)).toBe("run-1");
      got.push((m.json() as { data: { delta: string } }).data.delta);
      if (m.info.pending === 0) break;
    }
    expect(got).toEqual(Array.from({ length: n }, (_, i) => `d${i}`));
  });

  it("merges one macrotask's cache updates: later fields win, critical events keep order and the ring its bound", async () => {
    const target = { tenant: "acme", agent: "hello", task_id: newTaskId() };
    const cache = new ReplayCache(redis, target.task_id, log);
    const started = buildEvent(target, "run-2", 1, "status", { status: "running" });
    cache.start({ run_id: "run-2", node_id: "node-a", started_at: started.ts, round_count: 0 }, started);
    // One macrotask: a tool call, its result, a finished round, usage, and then many more calls.
    cache.onEvent(buildEvent(target, "run-2", 1, "tool.call", { round: 1, call_id: "c1", tool: "echo", args: {} }));
    cache.onEvent(buildEvent(target, "run-2", 1, "tool.result", { round: 1, call_id: "c1", tool: "echo", result: {} }));
    cache.onEvent(buildEvent(target, "run-2", 1, "step.finish", { round: 1 }));
    cache.onEvent(buildEvent(target, "run-2", 1, "usage", { input_tokens: 3, output_tokens: 5, total_tokens: 8 }));
    for (let i = 0; i < CRITICAL_RING_SIZE + 8; i++) cache.onEvent(buildEvent(target, "run-2", 1, "status", { status: "running", note: i }));
    cache.onEvent(buildEvent(target, "run-2", 1, "tool.call", { round: 2, call_id: "c2", tool: "sleep", args: { ms: 1 } }));
    await new Promise((r) => setImmediate(r));
    await redis.ping(); // the staged pipeline went out before this reply

    const fields = await redis.hgetall(redisKeys.run(target.task_id));
    expect(fields).toMatchObject({
      status: "running",
      run_id: "run-2",
      node_id: "node-a",
      round_count: "1",
      last_tool_name: "sleep",
      last_tool_phase: "begin",
    });
    expect(JSON.parse(fields.last_usage ?? "null")).toEqual({ input_tokens: 3, output_tokens: 5, total_tokens: 8 });
    const ring = (await redis.lrange(redisKeys.runCritical(target.task_id), 0, -1)).map((s) => JSON.parse(s) as { data: { note?: number } });
    expect(ring).toHaveLength(CRITICAL_RING_SIZE);
    // 1 start + 40 status events pushed; the newest 32 remain, in push order.
    expect(ring.map((e) => e.data.note)).toEqual(Array.from({ length: CRITICAL_RING_SIZE }, (_, i) => i + 8));

    await cache.finish("completed");
    expect(await redis.hget(redisKeys.run(target.task_id), "status")).toBe("completed");
  });
});
