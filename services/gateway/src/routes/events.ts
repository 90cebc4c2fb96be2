// GET /v1/tasks/:id/events — Server-Sent Events (ARCHITECTURE.md §6). Replays the task's events
// (from the start, or after Last-Event-ID / ?after=), then follows live, and ends after the
// terminal status event. Live events come from the gateway's one consumer on every task's events
// (event-hub.ts), through the task's feed: a bounded ring of its newest frames. A follower the
// ring reaches back for is served from memory and then live, with no consumer of its own; one
// it does not (a task another gateway submitted, an old task, a resume from long ago, a ring
// cleared under the memory bound) reads the history with an ordered consumer of its own until it
// reaches the ring, then joins it. A client that reads too slowly for the live feed leaves it for
// a consumer of its own that pulls only as fast as its socket drains. Either way a slow client
// costs bounded memory.
//
// No gap, no duplicate: a follower holds the task's feed before it reads any history, so every
// event the hub delivers from then on lands in the ring (event-hub.ts: complete above
// `coveredAfter`). History is read from the stream until the follower has every event up to
// coveredAfter (`through`); then the ring's events after the last one it was given, then live
// ones. Each event is given at most once because only seqs above the last one given are.
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
import { type FeedHold, type FeedListener, isTerminalEvent, type TailEvent, toTailEvent } from "../event-hub.ts";
import { HttpProblem } from "../http-errors.ts";
import { loadTask } from "../task-reads.ts";
import { TaskParams, taskParamNames } from "./tasks.ts";

export function eventRoutes(app: FastifyInstance, ctx: GatewayContext & { jsm: JetStreamManager }, tenantOf: (req: FastifyRequest) => string): void {
  // Path and query are declared; Last-Event-ID (which wins over ?after=) is read below.
  const schema = { params: TaskParams, querystring: EventsQuery };
  app.withTypeProvider<ZodTypeProvider>().get("/v1/tasks/:id/events", { schema, config: { names: taskParamNames } }, async (req, reply) => {
    // A task this gateway submitted is known from its feed (its tenant is checked the same way);
    // any other is read from the store.
    const tenant = tenantOf(req);
    const here = ctx.eventHub.submittedHere(req.params.id);
    const task =
      here && here.tenant === tenant
        ? { id: req.params.id, tenant, agent: here.agent, attempt: here.attempt, finished: here.finished }
        : await loadTask(ctx, req.params.id, tenant).then((t) => ({ ...t, finished: isTerminal(t.status as TaskStatus) }));
    const q = req.query;
    const after = resumePoint(req.headers["last-event-id"], q.after);
    const subject = subjects.events(task.tenant, task.agent, task.id);
    const finished = task.finished;

    // Held before any history is read (see above). A finished task's feed is used if there is one.
    const hold = ctx.eventHub.hold(subject, !finished);
    try {
      // A finished task has no more events coming: stop at its terminal event.
      let lastSeq = Number.POSITIVE_INFINITY;
      if (finished) lastSeq = hold?.terminalSeq || (await lastSequence(ctx.jsm, subject));

      // Before the response starts, so a failing read is an error response, not a hung stream.
      let maxAttempt = 0;
      if (after > 0 && task.attempt > 1 && lastSeq > after) maxAttempt = hold?.completeFromStart ? hold.attemptAt(after) : await attemptAt(ctx, subject, after);

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
      await stream(ctx, task.id, subject, hold, { sent: after, through: after, maxAttempt, closed: false }, lastSeq, req.raw, res);
    } finally {
      hold?.release();
    }
  });
}

/** Follows the task until its terminal event or the client leaves; always ends the response. */
async function stream(
  ctx: GatewayContext,
  taskId: string,
  subject: string,
  hold: FeedHold | null,
  state: FollowState,
  lastSeq: number,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const onClose = () => {
    state.closed = true;
  };
  req.on("close", onClose);
  const keepAlive = setInterval(() => {
    if (!state.closed) res.write(": keep-alive\n\n");
  }, ctx.env.SSE_KEEPALIVE_MS);
  try {
    // Live from the feed while its ring reaches back to this follower; history from the stream
    // until it does. A follower detached for reading too slowly stays on its own consumer.
    let live = hold;
    while (!state.closed) {
      if (live?.covers(state)) {
        const outcome = await followFeed(live, state, req, res, ctx.env.SSE_FOLLOWER_BUFFER_BYTES);
        if (outcome === "finished") return;
        if (outcome === "too_slow") {
          ctx.log.info({ task_id: taskId, after: state.sent }, "slow follower detached from the live feed; reading on its own");
          live = null;
        }
        continue;
      }
      const from = state.sent;
      const outcome = await followOwn(ctx, subject, state, lastSeq, req, res, live);
      if (outcome === "finished") return;
      ctx.log.debug({ task_id: taskId, from, to: state.sent }, "read history from the stream; joining the live feed");
    }
  } catch (err) {
    ctx.log.warn({ err: (err as Error).message, task_id: taskId }, "event stream ended with an error");
  } finally {
    clearInterval(keepAlive);
    req.off("close", onClose);
    res.end();
  }
}

/** Where a follower stands (FollowPoint), the newest attempt it has seen announced, whether it left. */
interface FollowState {
  sent: number;
  through: number;
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
  state.through = Math.max(state.through, e.seq);
  return e.terminal;
}

/**
 * Follows through the task's feed. Resolves `finished` when the stream is done (terminal event
 * sent, or the client left), `too_slow` when the client's socket holds more than `maxBuffered`
 * unsent bytes (the caller goes on with its own consumer from `state.sent`), `not_covered` when
 * the ring no longer reaches back to the follower.
 */
function followFeed(
  hold: FeedHold,
  state: FollowState,
  req: IncomingMessage,
  res: ServerResponse,
  maxBuffered: number,
): Promise<"finished" | "too_slow" | "not_covered"> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (outcome: "finished" | "too_slow" | "not_covered") => {
      if (settled) return;
      settled = true;
      hold.leave(listener);
      req.off("close", onClose);
      resolve(outcome);
    };
    const onClose = () => settle("finished");
    const listener: FeedListener = {
      onEvent(e) {
        if (settled || e.seq <= state.sent) return;
        if (deliver(e, state, res)) settle("finished");
        else if (res.writableLength > maxBuffered) settle("too_slow");
      },
    };
    req.on("close", onClose);
    if (state.closed) return settle("finished");
    if (!hold.join(state, listener)) return settle("not_covered");
    if (settled) hold.leave(listener); // settled while the ring was given (terminal, or too slow)
  });
}

/**
 * Follows with an ordered consumer of its own from `state.sent`, pulling only as fast as the
 * client's socket drains: `finished` at the terminal event (or `lastSeq`, or the client
 * leaving), `join` as soon as `feed`'s ring reaches back to the follower (it then continues
 * live, and the ring gets the history read here). A follower without a feed (a finished task's,
 * or one detached for reading too slowly) reads to the end.
 *
 * `state.through` also moves when the consumer reports nothing pending: the consumer was
 * created after the follower took its hold, when the hub had delivered up to G, so every event
 * of the task stored before then (all seqs ≤ G among them) was pending for it; with none left,
 * the follower has every event up to G, and the ring (complete above a point ≤ G unless it was
 * trimmed since) has the rest.
 */
async function followOwn(
  ctx: GatewayContext,
  subject: string,
  state: FollowState,
  lastSeq: number,
  req: IncomingMessage,
  res: ServerResponse,
  feed: FeedHold | null,
): Promise<"finished" | "join"> {
  const delivered = ctx.eventHub.delivered;
  // What this read gives the follower, kept (within the ring's per-task bound) to hand to the
  // ring when the follower joins it: the next follower from the same point then reads nothing.
  const from = state.sent;
  let history: TailEvent[] | null = feed ? [] : null;
  let historyBytes = 0;
  const canJoin = () => {
    if (!feed?.covers(state)) return false;
    if (history) feed.fill(from, history, state);
    return true;
  };
  const consumer = await ctx.js.consumers.get(STREAMS.events, {
    filter_subjects: subject,
    ...(state.sent > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: state.sent + 1 } : { deliver_policy: DeliverPolicy.All }),
    inactive_threshold: 30_000,
  });
  const caughtUp = () => {
    state.through = Math.max(state.through, delivered);
  };
  if ((await consumer.info(true)).num_pending === 0) caughtUp();
  if (canJoin()) {
    void consumer.delete().catch(() => undefined);
    return "join";
  }
  const messages = await consumer.consume({ max_messages: 256 });
  const onClose = () => void messages.close();
  req.on("close", onClose);
  try {
    for await (const m of messages) {
      if (state.closed) return "finished";
      const e = toTailEvent(m.seq, m.headers, m.data);
      const terminal = deliver(e, state, res);
      if (history) {
        history.push(e);
        historyBytes += e.frame?.byteLength ?? 0;
        if (historyBytes > ctx.env.SSE_TAIL_BUFFER_BYTES) history = null;
      }
      if (m.info.pending === 0) caughtUp();
      if (res.writableNeedDrain) await drainedOrClosed(res);
      if (terminal || m.seq >= lastSeq) return "finished";
      if (canJoin()) return "join";
    }
    return "finished"; // closed: the client left
  } finally {
    req.off("close", onClose);
    await messages.close().catch(() => undefined);
    void consumer.delete().catch(() => undefined);
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
