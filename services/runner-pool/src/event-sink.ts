// Publishes one run's events to SY_EVENTS (ARCHITECTURE.md §6), pipelined: up to `window`
// publishes in flight, in order on one connection, each with a Nats-Msg-Id (`<run_id>:<n>`) so a
// re-publish is a no-op. flush() waits for every ack and throws if any publish failed, so a
// checkpoint or an outcome is only reported after the events before it are durable.
// A long answer is thousands of text.delta events, so each costs as little as it can: its JSON
// and header block are spliced from strings made once per run (the same bytes runtime's
// buildEvent and publishEvent produce), the timestamp is formatted once per millisecond, an
// emit that need not wait returns one settled promise, and a full window waits until half of it
// is acknowledged, so the publishes after it go out together.
import { EventHeaders, type EventType, type StoredEvent, SwitchyardError, subjects } from "@switchyard/contracts";
import { type EventTarget, traceHeaders, tracingEnabled } from "@switchyard/runtime";
import type { EventPublisher } from "./event-publisher.ts";
import type { ReplayCache } from "./replay-cache.ts";

const enc = new TextEncoder();
const DONE: Promise<void> = Promise.resolve();

let lastMs = -1;
let lastTs = "";
/** `new Date().toISOString()`, formatted once per millisecond. */
function isoNow(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastTs = new Date(ms).toISOString();
  }
  return lastTs;
}

export class EventSink {
  readonly #publisher: EventPublisher;
  readonly #subject: string;
  readonly #target: EventTarget;
  readonly #runId: string;
  readonly #attempt: number;
  readonly #cache: ReplayCache;
  readonly #window: number;
  /** `{"task_id":…,"run_id":…,"attempt":…,"ts":"`: how every event's JSON starts (buildEvent's key order). */
  readonly #jsonHead: string;
  /** The header lines every event of the run carries. */
  readonly #headerHead: string;
  readonly #queued: { headers: Uint8Array; payload: Uint8Array }[] = [];
  readonly #waiters: { until: number; resolve: () => void }[] = [];
  readonly #onAck = (err: Error | null): void => this.#acked(err);
  readonly #publishLater = (): void => this.#publishQueued();
  #inFlight = 0;
  #scheduled = false;
  #n = 0;
  #error: unknown = null;

  constructor(publisher: EventPublisher, target: EventTarget, runId: string, attempt: number, cache: ReplayCache, window: number) {
    this.#publisher = publisher;
    this.#subject = subjects.events(target.tenant, target.agent, target.task_id);
    this.#target = target;
    this.#runId = runId;
    this.#attempt = attempt;
    this.#cache = cache;
    this.#window = window;
    this.#jsonHead = `{"task_id":${JSON.stringify(target.task_id)},"run_id":${JSON.stringify(runId)},"attempt":${JSON.stringify(attempt)},"ts":"`;
    this.#headerHead = `NATS/1.0\r\n${EventHeaders.runId}: ${headerValue(runId)}\r\n${EventHeaders.attempt}: ${attempt}\r\n`;
  }

  /**
   * Queues an event; waits only when the window of unacknowledged publishes is full. Events
   * emitted in the same macrotask are published together (one socket write, not one each).
   */
  emit(type: EventType, data: unknown): Promise<void> {
    try {
      return this.#emit(type, data);
    } catch (err) {
      return Promise.reject(err); // a callback's `.catch` must see it, as with an async function
    }
  }

  #emit(type: EventType, data: unknown): Promise<void> {
    if (this.#error) throw this.#failure();
    const ts = isoNow();
    const dataJson = JSON.stringify(data) as string | undefined;
    const json = `${this.#jsonHead}${ts}","type":"${type}"${dataJson === undefined ? "" : `,"data":${dataJson}`}}`;
    let headers = `${this.#headerHead}${EventHeaders.type}: ${type}\r\n`;
    if (type === "status") headers += `${EventHeaders.status}: ${headerValue(String((data as { status: unknown }).status))}\r\n`;
    if (tracingEnabled()) headers += traceLines();
    headers += `Nats-Msg-Id: ${this.#runId}:${++this.#n}\r\n\r\n`;
    this.#queued.push({ headers: enc.encode(headers), payload: enc.encode(json) });

    if (type === "text.delta" || type === "reasoning.delta") this.#cache.onDelta(ts);
    else {
      const event: StoredEvent = { task_id: this.#target.task_id, run_id: this.#runId, attempt: this.#attempt, ts, type, data };
      this.#cache.onEvent(event, json);
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#publishLater);
    }
    if (this.#inFlight + this.#queued.length < this.#window) return DONE;
    this.#publishQueued();
    return this.#until(this.#window >> 1);
  }

  #publishQueued(): void {
    this.#scheduled = false;
    if (this.#queued.length === 0) return;
    const batch = this.#queued.splice(0);
    this.#inFlight += batch.length;
    for (const { headers, payload } of batch) this.#publisher.publish(this.#subject, headers, payload, this.#onAck);
  }

  #acked(err: Error | null): void {
    this.#inFlight--;
    if (err) this.#error ??= err;
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const w = this.#waiters[i] as { until: number; resolve: () => void };
      if (this.#inFlight <= w.until) {
        this.#waiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  /** Resolves once at most `n` publishes await their ack (every publish gets its ack or fails by a timeout). */
  #until(n: number): Promise<void> {
    if (this.#inFlight <= n) return DONE;
    return new Promise((resolve) => this.#waiters.push({ until: n, resolve }));
  }

  async flush(): Promise<void> {
    this.#publishQueued();
    await this.#until(0);
    if (this.#error) throw this.#failure();
  }

  get count(): number {
    return this.#n;
  }

  #failure(): SwitchyardError {
    return new SwitchyardError("runner_error", `publishing events failed: ${(this.#error as Error)?.message ?? this.#error}`, {
      retryable: true,
      cause: this.#error,
    });
  }
}

/** A header value as the NATS client takes it: trimmed, and never one that could end the header block. */
function headerValue(v: string): string {
  if (/[\r\n]/.test(v)) throw new Error("header values cannot contain \\r or \\n");
  return v.trim();
}

/** The active trace context as header lines (`traceparent`, …), when tracing is on. */
function traceLines(): string {
  const h = traceHeaders().headers;
  if (!h) return "";
  let out = "";
  for (const k of h.keys()) out += `${k}: ${headerValue(h.get(k))}\r\n`;
  return out;
}
