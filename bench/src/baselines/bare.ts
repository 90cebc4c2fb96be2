// Reference points without HTTP: a bare JetStream publish → durable pull consume → ack round
// trip, and bare BullMQ add → worker → `completed` observed. Each on its own server, with the
// consuming side in its own process, so server CPU (broker + consumer) is measured apart from
// the producing client (this process).
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { startNats, startRedis } from "@switchyard/devkit";
import { Queue, QueueEvents } from "bullmq";
import { CpuMeter, load1, round, startHelper } from "../proc.ts";
import { type Summary, summarize } from "../stats.ts";
import { bullConnection } from "./redis-conn.ts";

export interface BareResult {
  side: string;
  messages: number;
  window: number;
  seconds: number;
  per_s: number;
  latency_ms: Summary;
  server_cpu_ms_per_task: number;
  client_cpu_ms_per_task: number;
  server_cpu_by_process_ms_per_task: Record<string, number>;
  load1: number;
}

const clock = () => performance.timeOrigin + performance.now();

/** Runs `send(i)` for i < n with at most `window` in flight. */
async function pipelined(n: number, window: number, send: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < n) await send(next++);
  };
  await Promise.all(Array.from({ length: Math.min(window, n) }, lane));
}

export async function bareJetStream(opts: { warmup: number; messages: number; window: number }): Promise<BareResult> {
  const nats = await startNats();
  const nc = await connect({ servers: nats.url, name: "bench-publisher" });
  let consumerProc: Awaited<ReturnType<typeof startHelper>> | undefined;
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "BENCH", subjects: ["bench.work"], retention: RetentionPolicy.Workqueue, storage: StorageType.File });
    await jsm.consumers.add("BENCH", {
      durable_name: "bench",
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      max_ack_pending: 100_000,
    });
    consumerProc = await startHelper("js-consumer", "baselines/js-consumer.ts", { NATS_URL: nats.url });
    const js = jetstream(nc);
    // publish → consumed and acked → observed here (`bench.done`); `window` in flight.
    const pending = new Map<string, () => void>();
    nc.subscribe("bench.done", { callback: (_err, msg) => pending.get(msg.string())?.() });
    await nc.flush();
    const latencies: number[] = [];
    let measuring = false;
    let n = 0;
    const roundTrip = async () => {
      const id = String(++n);
      const sentAt = clock();
      const done = new Promise<void>((resolve) => pending.set(id, resolve));
      await js.publish("bench.work", id);
      await done;
      pending.delete(id);
      if (measuring) latencies.push(clock() - sentAt);
    };
    await pipelined(opts.warmup, opts.window, roundTrip);

    const meter = new CpuMeter({ "nats-server": nats.pid, consumer: consumerProc.pid });
    measuring = true;
    meter.start();
    const start = clock();
    await pipelined(opts.messages, opts.window, roundTrip);
    const seconds = (clock() - start) / 1000;
    const cpu = meter.stop();
    return result("jetstream-bare", opts.messages, opts.window, seconds, summarize(latencies, 3), cpu);
  } finally {
    await consumerProc?.stop();
    await nc.close();
    await nats.stop();
  }
}

/**
 * What one SSE reader costs in the gateway's design: an ordered consumer created per reader,
 * filtered to one task's subject holding `eventsPerTask` events, read to the end, closed.
 * `window` readers at once; the stream is written first and not counted.
 */
export async function bareOrderedReaders(opts: { readers: number; eventsPerTask: number; window: number }): Promise<BareResult> {
  const nats = await startNats();
  const nc = await connect({ servers: nats.url, name: "bench-readers" });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "EV", subjects: ["ev.>"], storage: StorageType.File });
    const js = jetstream(nc);
    const writes: Promise<unknown>[] = [];
    for (let t = 0; t < opts.readers; t++) for (let e = 0; e < opts.eventsPerTask; e++) writes.push(js.publish(`ev.${t}`, `{"n":${e}}`));
    await Promise.all(writes);
    const latencies: number[] = [];
    const read = async (t: number) => {
      const t0 = clock();
      const consumer = await js.consumers.get("EV", { filter_subjects: `ev.${t}`, deliver_policy: DeliverPolicy.All });
      const messages = await consumer.consume({ max_messages: 256 });
      let n = 0;
      for await (const _m of messages) if (++n >= opts.eventsPerTask) break;
      await messages.close();
      latencies.push(clock() - t0);
    };
    const meter = new CpuMeter({ "nats-server": nats.pid });
    meter.start();
    const start = clock();
    await pipelined(opts.readers, opts.window, read);
    const seconds = (clock() - start) / 1000;
    const cpu = meter.stop();
    return result(`jetstream-ordered-reader (${opts.eventsPerTask} events)`, opts.readers, opts.window, seconds, summarize(latencies, 3), cpu);
  } finally {
    await nc.close();
    await nats.stop();
  }
}

export async function bareBullmq(opts: { warmup: number; messages: number; window: number; workerConcurrency: number }): Promise<BareResult> {
  const redis = await startRedis();
  const connection = bullConnection(redis.url);
  const queue = new Queue("bare", { connection });
  const events = new QueueEvents("bare", { connection });
  let worker: Awaited<ReturnType<typeof startHelper>> | undefined;
  try {
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    worker = await startHelper("bullmq-worker", "baselines/bullmq-worker.ts", {
      REDIS_URL: redis.url,
      QUEUE: "bare",
      WORKER_CONCURRENCY: String(opts.workerConcurrency),
    });
    const pending = new Map<string, { sentAt: number; resolve: () => void }>();
    const latencies: number[] = [];
    let measuring = false;
    events.on("completed", ({ jobId }) => {
      const p = pending.get(jobId);
      if (!p) return;
      pending.delete(jobId);
      if (measuring) latencies.push(clock() - p.sentAt);
      p.resolve();
    });
    // add → completed observed; `window` jobs in flight.
    const oneJob = async () => {
      const sentAt = clock();
      let resolve!: () => void;
      const done = new Promise<void>((r) => (resolve = r));
      const job = await queue.add("job", { input: "bench" }, { removeOnComplete: 5000, removeOnFail: 5000 });
      pending.set(String(job.id), { sentAt, resolve });
      // A completion seen before we registered: ask Redis.
      if ((await job.getState()) === "completed" && pending.delete(String(job.id))) {
        if (measuring) latencies.push(clock() - sentAt);
        return;
      }
      await done;
    };
    await pipelined(opts.warmup, opts.window, oneJob);

    const meter = new CpuMeter({ "redis-server": redis.pid, worker: worker.pid });
    measuring = true;
    meter.start();
    const start = clock();
    await pipelined(opts.messages, opts.window, oneJob);
    const seconds = (clock() - start) / 1000;
    const cpu = meter.stop();
    return result("bullmq-bare", opts.messages, opts.window, seconds, summarize(latencies, 3), cpu);
  } finally {
    await worker?.stop();
    await Promise.allSettled([events.close(), queue.close()]);
    await redis.stop();
  }
}

function result(
  side: string,
  n: number,
  window: number,
  seconds: number,
  latency: Summary,
  cpu: { perProcess: Record<string, number>; total: number; client: number },
): BareResult {
  const perTask = (s: number) => round((s * 1000) / n, 3);
  return {
    side,
    messages: n,
    window,
    seconds: round(seconds, 2),
    per_s: round(n / seconds, 1),
    latency_ms: latency,
    server_cpu_ms_per_task: perTask(cpu.total),
    client_cpu_ms_per_task: perTask(cpu.client),
    server_cpu_by_process_ms_per_task: Object.fromEntries(Object.entries(cpu.perProcess).map(([k, v]) => [k, perTask(v)])),
    load1: load1(),
  };
}
