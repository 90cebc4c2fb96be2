// A workaround for @nats-io/nats-core 3.4.0: every request that succeeds builds an Error it
// throws away. RequestOne.resolver resolves the reply and then calls cancel(), which rejects
// the (already settled) promise with `new RequestError("cancelled")`, stack trace and all —
// whatever `noAsyncTraces` says. Every JetStream publish and KV read is such a request; the
// profiler put that constructor at 8–11% of the kernel's and runner's CPU (BENCHMARKS.md).
// On success we do what cancel() does minus the throwaway Error; failures keep the library's
// own path. Applied only if the library still has the shape it was written against.
import { RequestOne } from "@nats-io/nats-core/internal";

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
