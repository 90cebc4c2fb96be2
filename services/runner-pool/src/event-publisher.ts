// JetStream publishes with every ack awaited, for a runner's events (ARCHITECTURE.md §6), without
// a NATS request per event. Each event goes out as a plain publish whose reply subject is
// `<inbox>.<n>`, under one subscription per connection made when the runner starts (not per run:
// a run costs no SUB/UNSUB). JetStream answers there with the PubAck or an error, exactly as it
// answers a request; an ack that does not come within `timeoutMs` fails the publish, as a
// request's timeout does. What this saves per event is the request's machinery: a promise, a
// timer, a mux entry, a copy of the options and a header object to build and encode.
import { createInbox, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from "@nats-io/transport-node";

/** Called once per publish: `null` when JetStream stored the message (or already had its Nats-Msg-Id). */
export type AckHandler = (err: Error | null) => void;

interface Pending {
  onAck: AckHandler;
  due: number;
}

/** A successful PubAck starts with this (the server writes `stream` first; an error starts with `error`). */
const ACK_PREFIX = new TextEncoder().encode('{"stream":');
const dec = new TextDecoder();

export class EventPublisher {
  readonly #nc: NatsConnection;
  readonly #inbox: string;
  readonly #sub: Subscription;
  readonly #timeoutMs: number;
  /** In publish order (a Map keeps insertion order), so the first entry is always the oldest. */
  readonly #pending = new Map<number, Pending>();
  /** Header bytes handed to the client: it only calls `encode()`; one object serves every publish. */
  readonly #headers: { bytes: Uint8Array; encode(): Uint8Array } = {
    bytes: new Uint8Array(0),
    encode(): Uint8Array {
      return this.bytes;
    },
  };
  #n = 0;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(nc: NatsConnection, timeoutMs: number) {
    this.#nc = nc;
    this.#timeoutMs = timeoutMs;
    this.#inbox = createInbox();
    this.#sub = nc.subscribe(`${this.#inbox}.*`, { callback: (err, msg) => (err ? undefined : this.#onReply(msg)) });
  }

  /**
   * Publishes `payload` to `subject` with `headers`, a complete NATS header block
   * (`NATS/1.0\r\nName: value\r\n…\r\n`). `onAck` is called exactly once.
   */
  publish(subject: string, headers: Uint8Array, payload: Uint8Array, onAck: AckHandler): void {
    if (this.#closed) {
      onAck(new Error("event publisher is closed"));
      return;
    }
    const n = ++this.#n;
    this.#headers.bytes = headers;
    try {
      this.#nc.publish(subject, payload, { reply: `${this.#inbox}.${n}`, headers: this.#headers as unknown as MsgHdrs });
    } catch (err) {
      onAck(err as Error);
      return;
    }
    this.#pending.set(n, { onAck, due: Date.now() + this.#timeoutMs });
    this.#timer ??= setTimeout(() => this.#expire(), this.#timeoutMs).unref();
  }

  /** Publishes whose ack has not come yet. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Stops listening for acks; whatever is still waiting fails. */
  close(): void {
    this.#closed = true;
    this.#sub.unsubscribe();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const waiting = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of waiting) p.onAck(new Error("event publisher closed before the ack came"));
  }

  #onReply(msg: Msg): void {
    const n = Number(msg.subject.slice(this.#inbox.length + 1));
    const p = this.#pending.get(n);
    if (!p) return; // an ack that came after its publish timed out
    this.#pending.delete(n);
    p.onAck(ackError(msg));
  }

  /** Fails the publishes past their due time, oldest first, and waits for the next one. */
  #expire(): void {
    this.#timer = null;
    const now = Date.now();
    for (const [n, p] of this.#pending) {
      if (p.due > now) {
        this.#timer = setTimeout(() => this.#expire(), p.due - now).unref();
        return;
      }
      this.#pending.delete(n);
      p.onAck(new Error(`no JetStream ack within ${this.#timeoutMs} ms`));
    }
  }
}

/** What a JetStream reply says about the publish: null for a PubAck, else why it failed. */
export function ackError(msg: Pick<Msg, "data" | "headers">): Error | null {
  const d = msg.data;
  if (d.length === 0) {
    const code = msg.headers?.code ?? 0;
    return new Error(code === 503 ? "no JetStream stream takes the subject (503 no responders)" : `empty JetStream reply (status ${code})`);
  }
  if (d.length > ACK_PREFIX.length && ACK_PREFIX.every((b, i) => d[i] === b)) return null;
  let reply: { stream?: unknown; error?: { code?: number; err_code?: number; description?: string } };
  try {
    reply = JSON.parse(dec.decode(d));
  } catch {
    return new Error(`invalid JetStream ack: ${dec.decode(d.subarray(0, 200))}`);
  }
  if (reply.error)
    return new Error(`JetStream refused the publish: ${reply.error.description ?? "error"} (${reply.error.err_code ?? reply.error.code ?? "?"})`);
  return typeof reply.stream === "string" && reply.stream !== "" ? null : new Error("invalid JetStream ack: no stream");
}
