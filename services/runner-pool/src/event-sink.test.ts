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
import { EventPublisher } from "./event-publisher.ts";
import { EventSink } from "./event-sink.ts";
import { ReplayCache } from "./replay-cache.ts";

const log = createLogger("event-sink-test", { level: "silent", format: "json" });

describe("EventSink and ReplayCache", () => {
  let nats: NatsServer;
  let redisServer: RedisServer;
  let nc: NatsConnection;
  let topo: Topology;
  let redis: Redis;
  let publisher: EventPublisher;
  beforeAll(async () => {
    [nats, redisServer] = await Promise.all([startNats(), startRedis()]);
    nc = await connectNats(nats.url, "event-sink-test", log);
    topo = await ensureTopology(nc, { EVENTS_MAX_AGE_HOURS: 1, EVENTS_MAX_MB: 64, CMD_DUPLICATE_WINDOW_S: 60 });
    redis = connectRedis(redisServer.url, log);
    publisher = new EventPublisher(nc, 5000);
  }, 30_000);
  afterAll(async () => {
    publisher?.close();
    redis?.disconnect();
    await nc?.close();
    await Promise.all([nats?.stop(), redisServer?.stop()]);
  });

  it("stores every event of bursty emits, in emit order, with the run's headers", async () => {
    const target = { tenant: "acme", agent: "hello", task_id: newTaskId() };
    const cache = new ReplayCache(redis, target.task_id, log);
    const sink = new EventSink(publisher, target, "run-1", 1, cache, 64);
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
    expect(publisher.pending, "flush returned after every ack").toBe(0);
  });

  /** Every message of a task's subject, in stream order. */
  async function stored(target: { tenant: string; agent: string; task_id: string }) {
    const consumer = await topo.js.consumers.get(STREAMS.events, {
      filter_subjects: subjects.events(target.tenant, target.agent, target.task_id),
      deliver_policy: DeliverPolicy.All,
    });
    const out: { headers: Record<string, string>; text: string }[] = [];
    const msgs = await consumer.fetch({ max_messages: 100, expires: 1000 });
    for await (const m of msgs) {
      const headers: Record<string, string> = {};
      for (const k of m.headers?.keys() ?? []) headers[k] = m.headers?.get(k) ?? "";
      out.push({ headers, text: m.string() });
      if (m.info.pending === 0) break;
    }
    return out;
  }

  it("stores each event as runtime's buildEvent encodes it, with the type, run, attempt, status and Nats-Msg-Id headers", async () => {
    const target = { tenant: "acme", agent: "hello", task_id: newTaskId() };
    const sink = new EventSink(publisher, target, "run-3", 2, new ReplayCache(redis, target.task_id, log), 8);
    const emitted = [
      ["step.start", { round: 1 }],
      ["text.delta", { round: 1, delta: 'quote " and \u2028 \u00e9 ✓' }],
      ["usage", { input_tokens: 1, output_tokens: 2, total_tokens: 3 }],
      ["status", { status: "running", attempt: 2 }],
    ] as const;
    for (const [type, data] of emitted) await sink.emit(type, data);
    await sink.flush();
    const got = await stored(target);
    expect(got).toHaveLength(emitted.length);
    for (const [i, [type, data]] of emitted.entries()) {
      const msg = got[i] as { headers: Record<string, string>; text: string };
      const ts = (JSON.parse(msg.text) as { ts: string }).ts;
      expect(msg.text).toBe(JSON.stringify({ ...buildEvent(target, "run-3", 2, type, data), ts }));
      expect(Date.parse(ts)).not.toBeNaN();
      expect(msg.headers).toMatchObject({
        [EventHeaders.type]: type,
        [EventHeaders.runId]: "run-3",
        [EventHeaders.attempt]: "2",
        "Nats-Msg-Id": `run-3:${i + 1}`,
      });
    }
    expect(got[3]?.headers[EventHeaders.status]).toBe("running");
    expect(got[0]?.headers[EventHeaders.status]).toBeUndefined();
  });

  it("a run's events published again (same Nats-Msg-Id) are stored once", async () => {
    const target = { tenant: "acme", agent: "hello", task_id: newTaskId() };
    for (const text of ["first", "again"]) {
      const sink = new EventSink(publisher, target, "run-4", 1, new ReplayCache(redis, target.task_id, log), 8);
      for (let i = 0; i < 3; i++) await sink.emit("text.delta", { round: 1, delta: `${text}${i}` });
      await sink.flush();
    }
    expect((await stored(target)).map((m) => (JSON.parse(m.text) as { data: { delta: string } }).data.delta)).toEqual(["first0", "first1", "first2"]);
  });

  it("fails a publish that JetStream does not store: no stream for the subject, or no ack in time", async () => {
    const noStream = await new Promise<Error | null>((resolve) =>
      publisher.publish("nostream.x", new TextEncoder().encode("NATS/1.0\r\nA: b\r\n\r\n"), new Uint8Array([1]), resolve),
    );
    expect(noStream?.message).toMatch(/503/);
    // A subscriber that never answers: the ack does not come, and the publish fails after the timeout.
    const silent = nc.subscribe("silent.x");
    const quick = new EventPublisher(nc, 200);
    const unanswered = await new Promise<Error | null>((resolve) =>
      quick.publish("silent.x", new TextEncoder().encode("NATS/1.0\r\nA: b\r\n\r\n"), new Uint8Array([1]), resolve),
    );
    expect(unanswered?.message).toMatch(/no JetStream ack within 200 ms/);
    expect(quick.pending).toBe(0);
    quick.close();
    silent.unsubscribe();
  });

  it("a failed publish fails the next emit and the flush with runner_error (retryable)", async () => {
    const target = { tenant: "acme", agent: "hello", task_id: newTaskId() };
    const closed = new EventPublisher(nc, 5000);
    const sink = new EventSink(closed, target, "run-5", 1, new ReplayCache(redis, target.task_id, log), 8);
    await sink.emit("text.delta", { round: 1, delta: "a" });
    closed.close(); // the queued event's publish goes out after this; its ack can never come back
    await expect(sink.flush()).rejects.toMatchObject({ code: "runner_error", retryable: true });
    await expect(sink.emit("text.delta", { round: 1, delta: "b" })).rejects.toMatchObject({ code: "runner_error" });
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
