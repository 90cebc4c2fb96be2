// GET /v1/tasks/:id/events — Server-Sent Events (DESIGN §6). Replays the task's events from
// JetStream (from the start, or after Last-Event-ID / ?after=), then follows live, and ends
// after the terminal status event. One ordered consumer per client; it pulls only as fast as
// the client's socket drains, so a slow client costs bounded memory.
//
// Read-side fencing: once a status event has announced attempt N, events of older attempts
// (a fenced runner that kept publishing before it learned it lost the task) are dropped. The
// rule depends only on the stream, so a resumed client sees exactly what a full reader sees.
import { DeliverPolicy, type JetStreamManager } from "@nats-io/jetstream";
import { EventHeaders, EventsQuery, isTerminal, STREAMS, subjects, type TaskStatus } from "@switchyard/contracts";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { GatewayContext } from "../context.ts";
import { HttpProblem, parseOr400 } from "../http-errors.ts";
import { loadTask } from "../task-reads.ts";

const TERMINAL = new Set<string>(["completed", "failed", "canceled"]);
const decoder = new TextDecoder();

export function eventRoutes(app: FastifyInstance, ctx: GatewayContext & { jsm: JetStreamManager }, tenantOf: (req: FastifyRequest) => string): void {
  app.get("/v1/tasks/:id/events", async (req, reply) => {
    const task = await loadTask(ctx, (req.params as { id: string }).id, tenantOf(req));
    const q = parseOr400(EventsQuery, req.query, "query");
    const after = resumePoint(req.headers["last-event-id"], q.after);
    const subject = subjects.events(task.tenant, task.agent, task.id);

    // A finished task has no more events coming: stop at the last one it has.
    let lastSeq = Number.POSITIVE_INFINITY;
    if (isTerminal(task.status as TaskStatus)) {
      lastSeq = await lastSequence(ctx.jsm, subject);
    }

    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    res.write(": switchyard events\n\n");
    if (lastSeq <= after) {
      res.end();
      return;
    }

    let maxAttempt = after > 0 && task.attempt > 1 ? await attemptAt(ctx, subject, after) : 0;
    const consumer = await ctx.js.consumers.get(STREAMS.events, {
      filter_subjects: subject,
      ...(after > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: after + 1 } : { deliver_policy: DeliverPolicy.All }),
      inactive_threshold: 30_000_000_000,
    });
    const messages = await consumer.consume({ max_messages: 256 });
    let closed = false;
    const onClose = () => {
      closed = true;
      void messages.close();
    };
    req.raw.on("close", onClose);
    const keepAlive = setInterval(() => {
      if (!closed) res.write(": keep-alive\n\n");
    }, ctx.env.SSE_KEEPALIVE_MS);

    try {
      for await (const m of messages) {
        if (closed) break;
        const type = m.headers?.get(EventHeaders.type) || "message";
        const attempt = Number(m.headers?.get(EventHeaders.attempt) || 0);
        if (type === "status") maxAttempt = Math.max(maxAttempt, attempt);
        const stale = type !== "status" && attempt < maxAttempt;
        const raw = decoder.decode(m.data);
        if (!stale && raw.startsWith("{")) {
          const frame = `id: ${m.seq}\nevent: ${type}\ndata: {"seq":${m.seq},${raw.slice(1)}\n\n`;
          if (!res.write(frame)) await drainedOrClosed(res);
        }
        if ((type === "status" && TERMINAL.has(m.headers?.get(EventHeaders.status) ?? "")) || m.seq >= lastSeq) break;
      }
    } catch (err) {
      ctx.log.warn({ err: (err as Error).message, task_id: task.id }, "event stream ended with an error");
    } finally {
      clearInterval(keepAlive);
      req.raw.off("close", onClose);
      await messages.close().catch(() => undefined);
      res.end();
    }
  });
}

/** The highest attempt announced by status events up to `seq`: a headers-only scan. */
async function attemptAt(ctx: GatewayContext, subject: string, seq: number): Promise<number> {
  const consumer = await ctx.js.consumers.get(STREAMS.events, { filter_subjects: subject, deliver_policy: DeliverPolicy.All, headers_only: true });
  const messages = await consumer.fetch({ max_messages: 10_000, expires: 2000 });
  let max = 0;
  for await (const m of messages) {
    if (m.seq > seq) break;
    if (m.headers?.get(EventHeaders.type) === "status") max = Math.max(max, Number(m.headers.get(EventHeaders.attempt) || 0));
    if (m.seq === seq || m.info.pending === 0) break;
  }
  await messages.close().catch(() => undefined);
  return max;
}

/** Last-Event-ID (header) wins over ?after=; both are event seqs, 0 means from the start. */
function resumePoint(header: string | string[] | undefined, query: number | undefined): number {
  if (header === undefined) return query ?? 0;
  const v = Array.isArray(header) ? header[0] : header;
  if (v === undefined || !/^\d{1,15}$/.test(v.trim())) {
    throw new HttpProblem("bad_request", "invalid Last-Event-ID header: must be an event seq (a non-negative integer)", [
      { path: "Last-Event-ID", message: "must be a non-negative integer" },
    ]);
  }
  return Number(v.trim());
}

/**
 * Where a finished task's stream ends: its last event, if that is the terminal status. The
 * kernel writes the record first and publishes the status event after, so a reader can see a
 * terminal record before the event exists: then it follows until the event arrives. No
 * events at all (they expired) → 0: nothing to send.
 */
async function lastSequence(jsm: JetStreamManager, subject: string): Promise<number> {
  try {
    const m = await jsm.streams.getMessage(STREAMS.events, { last_by_subj: subject });
    if (!m) return 0;
    const terminal = m.header?.get(EventHeaders.type) === "status" && TERMINAL.has(m.header.get(EventHeaders.status) ?? "");
    return terminal ? m.seq : Number.POSITIVE_INFINITY;
  } catch {
    return 0; // no events at all (expired): nothing to wait for
  }
}

function drainedOrClosed(res: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}
