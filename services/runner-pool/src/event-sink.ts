// Publishes one run's events to SY_EVENTS, pipelined: up to `window` publishes in flight,
// in order on one connection, each with a Nats-Msg-Id (`<run_id>:<n>`) so a re-publish is a
// no-op. flush() waits for every ack and throws if any publish failed, so a checkpoint or an
// outcome is only reported after the events before it are durable.
import type { PubAck } from "@nats-io/jetstream";
import { type EventType, type StoredEvent, SwitchyardError } from "@switchyard/contracts";
import { buildEvent, type EventTarget, type JetStreamClient, publishEvent } from "@switchyard/runtime";
import type { ReplayCache } from "./replay-cache.ts";

export class EventSink {
  readonly #js: JetStreamClient;
  readonly #target: EventTarget;
  readonly #runId: string;
  readonly #attempt: number;
  readonly #cache: ReplayCache;
  readonly #window: number;
  readonly #inFlight = new Set<Promise<PubAck | undefined>>();
  readonly #queued: { event: StoredEvent; msgId: string }[] = [];
  #scheduled = false;
  #n = 0;
  #error: unknown = null;

  constructor(js: JetStreamClient, target: EventTarget, runId: string, attempt: number, cache: ReplayCache, window: number) {
    this.#js = js;
    this.#target = target;
    this.#runId = runId;
    this.#attempt = attempt;
    this.#cache = cache;
    this.#window = window;
  }

  /**
   * Queues an event; waits only when the window of unacknowledged publishes is full. Events
   * emitted in the same macrotask are published together (one socket write, not one each).
   */
  async emit(type: EventType, data: unknown): Promise<void> {
    if (this.#error) throw this.#failure();
    const event = buildEvent(this.#target, this.#runId, this.#attempt, type, data);
    this.#queued.push({ event, msgId: `${this.#runId}:${++this.#n}` });
    this.#cache.onEvent(event);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.#publishQueued());
    }
    if (this.#inFlight.size + this.#queued.length >= this.#window) {
      this.#publishQueued();
      await Promise.race(this.#inFlight);
    }
  }

  #publishQueued(): void {
    this.#scheduled = false;
    for (const { event, msgId } of this.#queued.splice(0)) {
      const p: Promise<PubAck | undefined> = publishEvent(this.#js, this.#target, event, msgId).catch((err: unknown) => {
        this.#error ??= err;
        return undefined;
      });
      this.#inFlight.add(p);
      void p.finally(() => this.#inFlight.delete(p));
    }
  }

  async flush(): Promise<void> {
    this.#publishQueued();
    await Promise.all(this.#inFlight);
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
