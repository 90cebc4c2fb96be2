// What a Node team would build by hand instead: fastify, a BullMQ queue, and SSE fed by
// BullMQ's QueueEvents. POST /v1/tasks adds a job (202 with its id); GET /v1/tasks/:id/events
// sends the job's state at once, then `running` on `active` and `completed` with the result,
// and ends. The worker runs in its own process (bullmq-worker.ts), on the same Redis.
import { Queue, QueueEvents } from "bullmq";
import Fastify from "fastify";
import { exitWithParent } from "../proc.ts";
import { bullConnection } from "./redis-conn.ts";

const connection = bullConnection(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
const name = process.env.QUEUE ?? "tasks";
const queue = new Queue(name, { connection });
const events = new QueueEvents(name, { connection });
await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);

type Listener = (type: "running" | "completed" | "failed", data: unknown) => void;
const listeners = new Map<string, Set<Listener>>();
const notify = (jobId: string, type: "running" | "completed" | "failed", data: unknown) => {
  for (const l of listeners.get(jobId) ?? []) l(type, data);
};
events.on("active", ({ jobId }) => notify(jobId, "running", null));
events.on("completed", ({ jobId, returnvalue }) => notify(jobId, "completed", returnvalue));
events.on("failed", ({ jobId, failedReason }) => notify(jobId, "failed", failedReason));

const app = Fastify({ logger: false });
app.post(
  "/v1/tasks",
  {
    schema: {
      body: {
        type: "object",
        required: ["agent", "input"],
        properties: { agent: { type: "string", pattern: "^[a-z0-9][a-z0-9_-]*$" }, input: {}, metadata: { type: "object" } },
      },
    },
  },
  async (req, reply) => {
    const body = req.body as { agent: string; input: unknown };
    const job = await queue.add("task", body, { removeOnComplete: 5000, removeOnFail: 5000 });
    return reply.code(202).send({ id: job.id, status: "queued", agent: body.agent, events_url: `/v1/tasks/${job.id}/events`, duplicate: false });
  },
);

app.get("/v1/tasks/:id/events", async (req, reply) => {
  const id = (req.params as { id: string }).id;
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
  res.write(": bullmq events\n\n");
  let seq = 0;
  let done = false;
  const send = (status: string, extra: Record<string, unknown> = {}) => {
    if (done) return;
    seq++;
    const event = { seq, task_id: id, run_id: null, attempt: 1, ts: new Date().toISOString(), type: "status", data: { status, attempt: 1, ...extra } };
    res.write(`id: ${seq}\nevent: status\ndata: ${JSON.stringify(event)}\n\n`);
    if (status === "completed" || status === "failed") finish();
  };
  const listener: Listener = (type, data) =>
    send(type, type === "completed" ? { result: data } : type === "failed" ? { error: { message: String(data) } } : {});
  const finish = () => {
    done = true;
    const set = listeners.get(id);
    set?.delete(listener);
    if (set?.size === 0) listeners.delete(id);
    res.end();
  };
  // Subscribe first, then read the state: a completion in between is not lost.
  const set = listeners.get(id) ?? new Set<Listener>();
  listeners.set(id, set);
  set.add(listener);
  res.on("close", () => {
    if (!done) finish();
  });
  const job = await queue.getJob(id);
  if (!job) return send("failed", { error: { message: "no such job" } });
  const state = await job.getState();
  if (state === "completed") send("completed", { result: job.returnvalue });
  else if (state === "failed") send("failed", { error: { message: job.failedReason } });
  else send(state === "active" ? "running" : "queued");
});

const address = await app.listen({ port: 0, host: "127.0.0.1" });
console.log(JSON.stringify({ ready: true, url: address }));
exitWithParent(async () => {
  await app.close();
  await Promise.all([events.close(), queue.close()]);
});
