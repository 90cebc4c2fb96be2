// GET /v1/tasks/:id/events — Server-Sent Events (ARCHITECTURE.md §6). Replays the task's events from
// JetStream (from the start, or after Last-Event-ID / ?after=), then follows live, and ends
// after the terminal status event. The followers of a running task share one consumer per
// gateway process (task-tail.ts); a finished task's history, and a follower the shared tail
// cannot serve or that reads too slowly, use an ordered consumer of their own that pulls only
// as fast as the client's socket drains. Either way a slow client costs bounded memory.
//
// Read-side fencing: once a status event has announced attempt N, events of older attempts
// (a fenced runner that kept publishing before it learned it lost the task) are dropped. The
// rule depends only on the stream, so a resumed client sees exactly what a full reader sees.

import type { IncomingMessage, ServerResponse } from "node:http";
import { DeliverPolicy, type JetStreamManager } from "@nats-io/jetstream";
import { EventHeaders, EventsQuery, isTerminal, STREAMS, subjects, type TaskStatus } from "@switchyard/contracts";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { GatewayContext } from "../context.ts";
import { HttpProblem } from "../http-errors.ts";
import { loadTask } from "../task-reads.ts";
import { isTerminalEvent, type TailEvent, type TailListener, TaskTails, toTailEvent } from "../task-tail.ts";
import { TaskParams, taskParamNames } from "./tasks.ts";

export function eventRoutes(app: FastifyInstance, ctx: GatewayContext & { jsm: JetStreamManager }, tenantOf: (req: FastifyRequest) => string): void {
  const tails = new TaskTails(ctx.js, ctx.log, { bufferBytes: ctx.env.SSE_TAIL_BUFFER_BYTES });

  // Path and query are declared; Last-Event-ID (which wins over ?after=) is read below.
  const schema = { params: TaskParams, querystring: EventsQuery };
  app.withTypeProvider<ZodTypeProvider>().get("/v1/tasks/:id/events", { schema, config: { names: taskParamNames } }, async (req, reply) => {
    const task = await loadTask(ctx, req.params.id, tenantOf(req));
    const q = req.query;
    const after = resumePoint(req.headers["last-event-id"], q.after);
    const subject = subjects.events(task.tenant, task.agent, task.id);

    // A finished task has no more events coming: stop at its terminal event.
    let lastSeq = Number.POSITIVE_INFINITY;
    if (isTerminal(task.status as TaskStatus)) {
      lastSeq = await lastSequence(ctx.jsm, subject);
    }

    // Before the response starts, so a failing read is an error response, not a hung stream.
    const maxAttempt = after > 0 && task.attempt > 1 && lastSeq > after ? await attemptAt(ctx, subject, after) : 0;

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

    const state: FollowState = { sent: after, maxAttempt, closed: false };
    const onClose = () => {
      state.closed = true;
    };
    req.raw.on("close", onClose);
    const keepAlive = setInterval(() => {
      if (!state.closed) res.write(": keep-alive\n\n");
    }, ctx.env.SSE_KEEPALIVE_MS);
    try {
      // A running task's followers share one consumer; a finished task's history, a follower
      // the tail cannot serve, and one detached for reading too slowly read on their own.
      const shared = lastSeq === Number.POSITIVE_INFINITY ? await followShared(tails, subject, state, req.raw, res, ctx.env.SSE_FOLLOWER_BUFFER_BYTES) : "own";
      const finished = shared === "finished";
      if (shared === "too_slow") ctx.log.info({ task_id: task.id, after: state.sent }, "slow follower detached from the shared tail; reading on its own");
      else if (shared === "not_served") ctx.log.debug({ task_id: task.id, after: state.sent }, "shared tail cannot serve this follower; reading on its own");
      if (!finished && !state.closed) await followOwn(ctx, subject, state, lastSeq, req.raw, res);
    } catch (err) {
      ctx.log.warn({ err: (err as Error).message, task_id: task.id }, "event stream ended with an error");
    } finally {
      clearInterval(keepAlive);
      req.raw.off("close", onClose);
      res.end();
    }
  });
}

/** Where a follower stands: the last seq given to it, the newest attempt it has seen announced. */
interface FollowState {
  sent: number;
  maxAttempt: number;
  closed: boolean;
}

/**
 * Writes one event to a follower, with read-side fencing; true when it was the terminal one.
 * Once a status event has announced attempt N, events of older attempts are dropped.
 */
function deliver(e: TailEvent, state: FollowState, res: ServerResponse): boolean {
  if (e.type === "status") state.maxAttempt = Math.max(state.maxAttempt, e.attempt);
  const stale = e.type !== "status" && e.attempt < state.maxAttempt;
  if (!stale && e.frame) res.write(e.frame);
  state.sent = e.seq;
  return e.terminal;
}

/** How following through the shared tail ended; all but `finished` continue on an own consumer. */
type SharedOutcome = "finished" | "not_served" | "too_slow";

/**
 * Follows through the task's shared tail. Resolves `finished` when the stream is done (terminal
 * event sent, or the client left); otherwise the caller goes on with its own consumer from
 * `state.sent`: the tail could not serve this point or stopped early (`not_served`), or the
 * client reads so slowly that its socket holds more than `maxBuffered` bytes (`too_slow`).
 */
function followShared(
  tails: TaskTails,
  subject: string,
  state: FollowState,
  req: IncomingMessage,
  res: ServerResponse,
  maxBuffered: number,
): Promise<SharedOutcome> {
  return new Promise<SharedOutcome>((resolve, reject) => {
    let settled = false;
    let unsubscribe: (() => void) | null = null;
    const settle = (finished: SharedOutcome) => {
      if (settled) return;
      settled = true;
      unsubscribe?.();
      req.off("close", onClose);
      resolve(finished);
    };
    const onClose = () => settle("finished");
    req.on("close", onClose);
    const listener: TailListener = {
      onEvent(e) {
        if (settled || e.seq <= state.sent) return;
        if (deliver(e, state, res)) settle("finished");
        else if (res.writableLength > maxBuffered) settle("too_slow");
      },
      onEnd(terminal) {
        settle(terminal ? "finished" : "not_served");
      },
    };
    tails.follow(subject, state.sent, listener).then((unsub) => {
      if (unsub === null) settle("not_served");
      else if (settled) unsub();
      else unsubscribe = unsub;
    }, reject);
  });
}

/** Follows with a consumer of its own, pulling only as fast as the client's socket drains. */
async function followOwn(ctx: GatewayContext, subject: string, state: FollowState, lastSeq: number, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const consumer = await ctx.js.consumers.get(STREAMS.events, {
    filter_subjects: subject,
    ...(state.sent > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: state.sent + 1 } : { deliver_policy: DeliverPolicy.All }),
    inactive_threshold: 30_000_000_000,
  });
  const messages = await consumer.consume({ max_messages: 256 });
  const onClose = () => void messages.close();
  req.on("close", onClose);
  try {
    for await (const m of messages) {
      if (state.closed) break;
      const e = toTailEvent(m.seq, m.headers, m.data);
      const terminal = deliver(e, state, res);
      if (res.writableNeedDrain) await drainedOrClosed(res);
      if (terminal || m.seq >= lastSeq) break;
    }
  } finally {
    req.off("close", onClose);
    await messages.close().catch(() => undefined);
  }
}

/** The highest attempt announced by status events up to `seq`: a headers-only scan. */
async function attemptAt(ctx: GatewayContext, subject: string, seq: number): Promise<number> {
  const consumer = await ctx.js.consumers.get(STREAMS.events, { filter_subjects: subject, deliver_policy: DeliverPolicy.All, headers_only: true });
  let max = 0;
  // In batches until `seq`: a long task's last status event may lie beyond any one batch.
  for (let done = false; !done; ) {
    const messages = await consumer.fetch({ max_messages: 10_000, expires: 2000 });
    let got = 0;
    for await (const m of messages) {
      got++;
      if (m.seq > seq) {
        done = true;
        break;
      }
      if (m.headers?.get(EventHeaders.type) === "status") max = Math.max(max, Number(m.headers.get(EventHeaders.attempt) || 0));
      if (m.seq === seq || m.info.pending === 0) {
        done = true;
        break;
      }
    }
    await messages.close().catch(() => undefined);
    if (got === 0) done = true; // nothing more to read
  }
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
    return isTerminalEvent(m.header) ? m.seq : Number.POSITIVE_INFINITY;
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
