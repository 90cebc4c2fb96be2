// A workaround for @nats-io/nats-core 3.4.0: every request that succeeds builds an Error it
// throws away. RequestOne.resolver resolves the reply and then calls cancel(), which rejects
// the (already settled) promise with `new RequestError("cancelled")`, stack trace and all —
// whatever `noAsyncTraces` says. Every JetStream publish and KV read is such a request; the
// profiler put that constructor at 8–11% of the kernel's and runner's CPU (BENCHMARKS.md).
// On success we do what cancel() does minus the throwaway Error; failures keep the library's
// own path. Applied only if the library still has the shape it was written against.
import { ProtocolHandler, RequestOne } from "@nats-io/nats-core/internal";

interface RequestOneInternals {
  timer?: { cancel(): void };
  mux: { cancel(r: unknown): void };
  deferred: { resolve(v: unknown): void };
  resolver(err: Error | null, msg: unknown): void;
  cancel(err?: Error): void;
}

let applied: boolean | undefined;

/** Installs the patch once; returns whether it is in place. */
export function patchNatsRequests(): boolean {
  if (applied !== undefined) return applied;
  const proto = RequestOne.prototype as unknown as RequestOneInternals;
  const original = proto.resolver;
  applied = typeof original === "function" && /this\.cancel\(\)/.test(String(original)) && /RequestError\("cancelled"\)/.test(String(proto.cancel));
  if (!applied) return false;
  proto.resolver = function resolver(this: RequestOneInternals, err: Error | null, msg: unknown): void {
    if (err) {
      original.call(this, err, msg);
      return;
    }
    this.timer?.cancel();
    this.mux.cancel(this);
    this.deferred.resolve(msg);
  };
  return true;
}

// Writes: nats-core queues every protocol command in an outbound buffer and flushes it from a
// microtask, so each burst of synchronous work ends in its own socket write. A service that
// handles many messages per event-loop turn (the kernel's commands, the runner's events, the
// gateway's SSE traffic) thus writes once per message it handles; the profiler put the write
// syscalls at the top of the kernel's profile (BENCHMARKS.md, "fast path"). Flushing from
// setImmediate instead makes it one write per event-loop turn: everything the turn produced
// goes out together, right after the turn's I/O callbacks, before any timer or new I/O.
// The size limit still flushes inline, as the library does.

interface ProtocolInternals {
  outbound: { length(): number; size(): number; fill(buf: Uint8Array, ...payloads: Uint8Array[]): void };
  pendingLimit: number;
  flushPending(): void;
  sendCommand(cmd: string | Uint8Array, ...payloads: Uint8Array[]): void;
}

let writesApplied: boolean | undefined;
const te = new TextEncoder();

/** Installs the batched flush once; returns whether it is in place. */
export function patchNatsWrites(): boolean {
  if (writesApplied !== undefined) return writesApplied;
  const proto = ProtocolHandler.prototype as unknown as ProtocolInternals;
  const src = String(proto.sendCommand);
  writesApplied = /queueMicrotask/.test(src) && /this\.outbound\.fill\(/.test(src) && /pendingLimit/.test(src) && typeof proto.flushPending === "function";
  if (!writesApplied) return false;
  proto.sendCommand = function sendCommand(this: ProtocolInternals, cmd: string | Uint8Array, ...payloads: Uint8Array[]): void {
    const len = this.outbound.length();
    this.outbound.fill(typeof cmd === "string" ? te.encode(cmd) : cmd, ...payloads);
    if (len === 0) setImmediate(() => this.flushPending());
    else if (this.outbound.size() >= this.pendingLimit) this.flushPending();
  };
  return true;
}
