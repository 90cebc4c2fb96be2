// Serves a request/reply subject in a queue group: validates each request, runs the handler
// concurrently, replies with its result. A malformed request gets `onInvalid`'s reply (or
// none), a log line and a count in `sy_invalid_input_total{source=<subject>}`; a handler
// error never escapes.
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { z } from "zod";
import { decodeJson, encodeJson } from "./codec.ts";
import type { Logger } from "./logger.ts";
import type { ServiceMetrics } from "./metrics.ts";
import { contextFromNats, inSpan, tracingEnabled } from "./tracing.ts";

export interface ServeOptions<S extends z.ZodType> {
  subject: string;
  queue: string;
  schema: S;
  handle: (req: z.infer<S>) => Promise<unknown>;
  onInvalid: (reason: string) => unknown;
  onError: (err: unknown) => unknown;
  log: Logger;
  /** When given, each invalid request is counted in `invalidInput` with `source` = subject. */
  metrics?: ServiceMetrics;
}

export function serveJson<S extends z.ZodType>(nc: NatsConnection, opts: ServeOptions<S>): Subscription {
  const sub = nc.subscribe(opts.subject, { queue: opts.queue });
  void (async () => {
    for await (const msg of sub) {
      const decoded = decodeJson(opts.schema, msg.data);
      if (!decoded.ok) {
        opts.metrics?.invalidInput.inc({ source: opts.subject });
        opts.log.warn({ subject: opts.subject, reason: decoded.reason }, "invalid request dropped");
        const reply = opts.onInvalid(decoded.reason);
        if (reply !== undefined && msg.reply) msg.respond(encodeJson(reply));
        continue;
      }
      const handle = () => opts.handle(decoded.value);
      (tracingEnabled() ? inSpan(`${opts.queue} ${opts.subject}`, contextFromNats(msg.headers), {}, handle) : handle())
        .catch((err: unknown) => {
          opts.log.error({ err, subject: opts.subject }, "request failed");
          return opts.onError(err);
        })
        .then((reply) => {
          if (reply !== undefined && msg.reply) msg.respond(encodeJson(reply));
        })
        .catch((err: unknown) => opts.log.error({ err }, "reply failed"));
    }
  })();
  return sub;
}
