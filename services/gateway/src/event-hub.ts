// The gateway's live events (ARCHITECTURE.md §6): ONE ordered consumer per gateway process on every
// task's events (`sy.events.>`), and, for each task someone here cares about, a feed: a bounded
// ring of its newest SSE frames and the followers listening to it. A follower of a task this
// gateway submitted is served from memory and then live, with no consumer and no JetStream API
// call of its own; the stream is read only for history the ring does not hold.
//
// Why: a consumer per followed task cost a consumer create, its pulls, deliveries, heartbeats
// and delete for every task. The price: every gateway receives every event of the fleet and
// drops those of tasks nobody here follows (one map lookup on the subject, nothing decoded).
//
// Completeness, the argument the SSE route relies on. The consumer delivers every stored event
// once, in stream order, without a gap, also across NATS restarts: the ordered consumer
// re-creates itself from the last sequence it delivered + 1, and should it stop for good the hub
// creates a new one from `delivered` + 1 (the last sequence handed to #onMessage). Hence when a
// feed is registered while the hub has delivered up to G, every event with seq > G reaches the
// feed after its registration: its ring is complete above G (`coveredAfter`). A task this
// gateway submits is registered before its submit is published, so none of its events is ≤ G
// and its ring is complete from the start (0). Dropping the oldest frames (per-task bound) moves
// `coveredAfter` to the last dropped seq; clearing a ring (global bound) moves it to the hub's G.
//
// Bounds: at most `taskBytes` of frames per task (oldest dropped first) and `totalBytes` over all
// tasks (the oldest feeds are cleared first, and dropped when nobody holds them). A feed nobody
// holds expires `lingerMs` after its terminal event, or `idleMs` after its last follower left
// (or its submit) while the task runs.
import { DeliverPolicy, type JetStreamClient, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import { EventHeaders, STREAMS, subjects, TERMINAL_STATUSES } from "@switchyard/contracts";
import type { Logger } from "@switchyard/runtime";

/** Whether a stored event is its task's terminal status, from its headers alone. */
export function isTerminalEvent(hdr: { get(k: string): string } | undefined): boolean {
  return hdr?.get(EventHeaders.type) === "status" && (TERMINAL_STATUSES as ReadonlySet<string>).has(hdr.get(EventHeaders.status));
}
const decoder = new TextDecoder();

/** One event as the gateway sends it: the SSE frame, plus what fencing and ending need. */
export interface TailEvent {
  seq: number;
  type: string;
  attempt: number;
  terminal: boolean;
  /**
   * The whole SSE frame, encoded once (written as is to every follower); null when the payload
   * is not a JSON object (never sent).
   */
  frame: Buffer | null;
}

/** Turns a stored event into its SSE frame; `seq` is spliced in as the first field. */
export function toTailEvent(seq: number, hdr: { get(k: string): string } | undefined, data: Uint8Array): TailEvent {
  const type = hdr?.get(EventHeaders.type) || "message";
  const raw = decoder.decode(data);
  return {
    seq,
    type,
    attempt: Number(hdr?.get(EventHeaders.attempt) || 0),
    terminal: isTerminalEvent(hdr),
    frame: raw.startsWith("{") ? Buffer.from(`id: ${seq}\nevent: ${type}\ndata: {"seq":${seq},${raw.slice(1)}\n\n`) : null,
  };
}

/** Memory an event costs in a ring: its frame plus a fixed overhead, so frameless events count too. */
const eventCost = (e: TailEvent): number => 64 + (e.frame?.byteLength ?? 0);

/** A live follower of a feed: gets each event once, in stream order. */
export interface FeedListener {
  onEvent(e: TailEvent): void;
}

/** Where a follower stands: every event with seq ≤ `through` has been given to it (or does not exist). */
export interface FollowPoint {
  /** The last seq given to the follower. */
  sent: number;
  /** ≥ sent: the follower has every event of its task up to here (see FeedHold.join). */
  through: number;
}

class Feed {
  readonly subject: string;
  readonly events: TailEvent[] = [];
  readonly listeners = new Set<FeedListener>();
  /** The ring holds every event of the task with seq > coveredAfter that the hub has delivered. */
  coveredAfter: number;
  bytes = 0;
  /** Followers holding the feed (live or still reading history); a held feed never expires. */
  holds = 0;
  /** The seq of the task's terminal event, once delivered (0: not yet). */
  terminalSeq = 0;
  expiresAt: number;
  /** Set for a task this gateway submitted (`expect`): whose it is, known without reading its record. */
  submitted: { tenant: string; agent: string; taskId: string } | null = null;

  constructor(subject: string, coveredAfter: number, expiresAt: number) {
    this.subject = subject;
    this.coveredAfter = coveredAfter;
    this.expiresAt = expiresAt;
  }
}

/** A follower's hold on its task's feed; `release()` once, when the follower is done. */
export interface FeedHold {
  /** The terminal event's seq, if the feed has seen it (0 otherwise). */
  readonly terminalSeq: number;
  /** Whether the ring holds the task's every event from its start (none dropped). */
  readonly completeFromStart: boolean;
  /** The highest attempt announced by status events with seq ≤ `seq`, when completeFromStart. */
  attemptAt(seq: number): number;
  /**
   * Joins the feed if its ring reaches back to where the follower stands (`at.through` ≥
   * coveredAfter): the ring's events after `at.sent` are given to `listener` at once, then it
   * gets every live event, in one synchronous step so nothing falls between. False: the follower
   * must read history from the stream first (until `at.through` reaches coveredAfter).
   */
  join(at: FollowPoint, listener: FeedListener): boolean;
  /** Stops giving events to `listener` (the hold stays). */
  leave(listener: FeedListener): void;
  /** Whether a follower at `at` could join now. */
  covers(at: FollowPoint): boolean;
  /**
   * Hands the ring history a follower read from the stream: `events` are every event of the
   * task after `from` up to `at.through` (the follower has no other), read just before it
   * joins. With the ring complete above a point ≤ at.through, the two together are complete
   * above `from`, so the next follower from there needs no stream read. Ignored when it would
   * not fit the per-task bound or the ring already reaches back that far.
   */
  fill(from: number, events: readonly TailEvent[], at: FollowPoint): void;
  release(): void;
}

export interface EventHubOptions {
  taskBytes: number;
  totalBytes: number;
  lingerMs: number;
  idleMs: number;
}

export class EventHub {
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #log: Logger;
  readonly #opts: EventHubOptions;
  readonly #feeds = new Map<string, Feed>();
  /** Feeds of tasks this gateway submitted, by task id. */
  readonly #submitted = new Map<string, Feed>();
  #bytes = 0;
  /** The last stream sequence handed to #onMessage (G in the argument above). */
  #delivered = 0;
  #stopped = false;
  #messages: { close(): Promise<unknown> } | null = null;
  #sweeper: NodeJS.Timeout | null = null;

  constructor(js: JetStreamClient, jsm: JetStreamManager, log: Logger, opts: EventHubOptions) {
    this.#js = js;
    this.#jsm = jsm;
    this.#log = log;
    this.#opts = opts;
  }

  /** The last stream sequence the hub has delivered to feeds. */
  get delivered(): number {
    return this.#delivered;
  }

  /** Bytes held by all rings (for tests and metrics). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Feeds (tasks with a ring or followers) this gateway holds. */
  get feeds(): number {
    return this.#feeds.size;
  }

  /** Starts the consumer after the stream's current last event: only new events are delivered. */
  async start(): Promise<void> {
    const info = await this.#jsm.streams.info(STREAMS.events);
    this.#delivered = info.state.last_seq;
    await this.#open();
    this.#sweeper = setInterval(() => this.#sweep(), 1000);
    this.#sweeper.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#sweeper) clearInterval(this.#sweeper);
    await this.#messages?.close().catch(() => undefined);
  }

  /**
   * Interest in a task this gateway is about to submit, registered BEFORE the submit is
   * published: its ring is then complete from its first event. Returns a release for a submit
   * that did not create this task (a duplicate), so its feed goes at once.
   */
  expect(tenant: string, agent: string, taskId: string): () => void {
    const subject = subjects.events(tenant, agent, taskId);
    let feed = this.#feeds.get(subject);
    if (!feed) {
      feed = new Feed(subject, 0, Date.now() + this.#opts.idleMs);
      this.#feeds.set(subject, feed);
    }
    feed.submitted = { tenant, agent, taskId };
    this.#submitted.set(taskId, feed);
    const mine = feed;
    return () => {
      if (mine.holds === 0 && this.#feeds.get(subject) === mine) this.#drop(mine);
    };
  }

  /**
   * What a follower needs of a task this gateway submitted, while its ring is complete from the
   * task's first event: its tenant and agent (its subject), the highest attempt its status events
   * announced and whether it ended. The SSE route then needs no read of the task record; null
   * for any other task (the record is read).
   */
  submittedHere(taskId: string): { tenant: string; agent: string; attempt: number; finished: boolean } | null {
    const feed = this.#submitted.get(taskId);
    if (!feed?.submitted || feed.coveredAfter !== 0 || this.#feeds.get(feed.subject) !== feed) return null;
    let attempt = 1;
    for (const e of feed.events) if (e.type === "status") attempt = Math.max(attempt, e.attempt);
    return { tenant: feed.submitted.tenant, agent: feed.submitted.agent, attempt, finished: feed.terminalSeq > 0 };
  }

  /**
   * A follower's hold on `subject`'s feed. `create`: a missing feed is created, complete above
   * what the hub has delivered so far; otherwise null when there is none.
   */
  hold(subject: string, create: boolean): FeedHold | null {
    let feed = this.#feeds.get(subject);
    if (!feed) {
      if (!create) return null;
      feed = new Feed(subject, this.#delivered, Number.POSITIVE_INFINITY);
      this.#feeds.set(subject, feed);
    }
    const f = feed;
    f.holds++;
    f.expiresAt = Number.POSITIVE_INFINITY;
    let released = false;
    const listeners = new Set<FeedListener>();
    const covers = (at: FollowPoint) => at.through >= f.coveredAfter;
    return {
      get terminalSeq() {
        return f.terminalSeq;
      },
      get completeFromStart() {
        return f.coveredAfter === 0;
      },
      attemptAt(seq) {
        let max = 0;
        for (const e of f.events) if (e.seq <= seq && e.type === "status") max = Math.max(max, e.attempt);
        return max;
      },
      covers,
      fill: (from, events, at) => {
        if (released || from >= f.coveredAfter || !covers(at)) return;
        const last = events.at(-1)?.seq ?? from;
        if (last > at.through) return;
        let bytes = 0;
        for (const e of events) bytes += eventCost(e);
        for (const e of f.events) if (e.seq > last) bytes += eventCost(e);
        if (bytes > this.#opts.taskBytes) return;
        const merged = [...events, ...f.events.filter((e) => e.seq > last)];
        f.events.splice(0, f.events.length, ...merged);
        this.#bytes += bytes - f.bytes;
        f.bytes = bytes;
        f.coveredAfter = from;
        if (this.#bytes > this.#opts.totalBytes) this.#evict();
      },
      join(at, listener) {
        if (released || !covers(at)) return false;
        // The ring holds every event above coveredAfter ≤ at.through, and the follower has
        // every one up to at.through: giving it the ring's events after at.sent, then the live
        // ones, leaves no gap; nothing is given twice, as each seq is given once and only if
        // above what the follower was last given.
        for (const e of f.events) if (e.seq > at.sent) listener.onEvent(e);
        f.listeners.add(listener);
        listeners.add(listener);
        return true;
      },
      leave(listener) {
        f.listeners.delete(listener);
        listeners.delete(listener);
      },
      release: () => {
        if (released) return;
        released = true;
        for (const l of listeners) f.listeners.delete(l);
        f.holds--;
        if (f.holds === 0) f.expiresAt = Date.now() + (f.terminalSeq > 0 ? this.#opts.lingerMs : this.#opts.idleMs);
      },
    };
  }

  /** Opens the consumer from `delivered` + 1, and again whenever it stops while the hub runs. */
  async #open(): Promise<void> {
    const consumer = await this.#js.consumers.get(STREAMS.events, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: this.#delivered + 1,
      inactive_threshold: 60_000,
    });
    // 5 s pulls: a consumer that lost its NATS node is noticed (and re-created) within seconds.
    const messages = await consumer.consume({ max_messages: 1024, expires: 5000, callback: (m) => this.#onMessage(m) });
    this.#messages = messages;
    void messages.closed().then((err) => this.#reopen(err instanceof Error ? err : undefined));
  }

  async #reopen(err: Error | undefined): Promise<void> {
    for (let attempt = 1; !this.#stopped; attempt++) {
      this.#log.warn(
        { err: err ? err.message : undefined, after: this.#delivered, attempt },
        "live event consumer stopped; re-creating it from the last delivered event",
      );
      await new Promise((r) => setTimeout(r, Math.min(5000, 250 * attempt)));
      if (this.#stopped) return;
      try {
        await this.#open();
        return;
      } catch (e) {
        err = e as Error;
      }
    }
  }

  #onMessage(m: JsMsg): void {
    // The ordered consumer never delivers a seq twice or out of order; guard anyway, so a
    // re-created consumer can never make a feed repeat an event.
    if (m.seq <= this.#delivered) return;
    this.#delivered = m.seq;
    const feed = this.#feeds.get(m.subject);
    if (!feed) return;
    const e = toTailEvent(m.seq, m.headers, m.data);
    feed.events.push(e);
    feed.bytes += eventCost(e);
    this.#bytes += eventCost(e);
    while (feed.bytes > this.#opts.taskBytes && feed.events.length > 1) {
      const dropped = feed.events.shift() as TailEvent;
      feed.bytes -= eventCost(dropped);
      this.#bytes -= eventCost(dropped);
      feed.coveredAfter = dropped.seq;
    }
    if (e.terminal) {
      feed.terminalSeq = e.seq;
      if (feed.holds === 0) feed.expiresAt = Date.now() + this.#opts.lingerMs;
    }
    for (const l of feed.listeners) {
      try {
        l.onEvent(e);
      } catch (err) {
        this.#log.warn({ err: (err as Error).message, subject: feed.subject }, "event listener failed");
      }
    }
    if (this.#bytes > this.#opts.totalBytes) this.#evict();
  }

  /**
   * Over the global bound: clears the oldest feeds' rings (dropping the feeds nobody holds)
   * until a tenth of the bound is free. A cleared ring is complete above what the hub has
   * delivered, so its followers go on live; one that needs history reads the stream.
   */
  #evict(): void {
    const target = this.#opts.totalBytes * 0.9;
    for (const feed of this.#feeds.values()) {
      if (this.#bytes <= target) break;
      if (feed.bytes === 0) continue;
      if (feed.holds === 0) {
        this.#drop(feed);
        continue;
      }
      this.#bytes -= feed.bytes;
      feed.bytes = 0;
      feed.events.length = 0;
      feed.coveredAfter = this.#delivered;
    }
  }

  #drop(feed: Feed): void {
    this.#feeds.delete(feed.subject);
    if (feed.submitted && this.#submitted.get(feed.submitted.taskId) === feed) this.#submitted.delete(feed.submitted.taskId);
    this.#bytes -= feed.bytes;
    feed.bytes = 0;
    feed.events.length = 0;
  }

  #sweep(): void {
    const now = Date.now();
    for (const feed of this.#feeds.values()) if (feed.holds === 0 && feed.expiresAt <= now) this.#drop(feed);
  }
}
