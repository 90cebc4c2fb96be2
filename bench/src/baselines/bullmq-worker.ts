// The BullMQ worker of the hand-built baselines: a no-op job processor (the same work as the
// no-op scripted agent: answer "ok"), WORKER_CONCURRENCY jobs at once.
import { Worker } from "bullmq";
import { exitWithParent } from "../proc.ts";
import { bullConnection } from "./redis-conn.ts";

const queue = process.env.QUEUE ?? "tasks";
const worker = new Worker(queue, async () => ({ text: "ok" }), {
  connection: bullConnection(process.env.REDIS_URL ?? "redis://127.0.0.1:6379"),
  concurrency: Number(process.env.WORKER_CONCURRENCY ?? 64),
});
await worker.waitUntilReady();
console.log(JSON.stringify({ ready: true }));
exitWithParent(() => worker.close());
