// The request patch against a real nats-server: replies, timeouts, no-responders and closed
// connections behave as before, and a successful request builds no Error.
import { createRequire } from "node:module";
import path from "node:path";
import { type NatsServer, startNats } from "@switchyard/devkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "./logger.ts";
import { connectNats, type NatsConnection } from "./nats.ts";
import { patchNatsRequests, patchNatsWrites } from "./nats-request-patch.ts";

const log = createLogger("nats-patch-test", { level: "silent", format: "json" });

describe("patchNatsRequests", () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  beforeAll(async () => {
    nats = await startNats();
    nc = await connectNats(nats.url, "nats-patch-test", log);
    nc.subscribe("echo", {
      callback: (_err, m) => {
        m.respond(m.data);
      },
    });
    await nc.flush();
  }, 30_000);
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  it("is in place for the pinned @nats-io/nats-core", () => {
    expect(patchNatsRequests()).toBe(true);
  });

  it("answers requests, and builds no Error for one that succeeds", async () => {
    const built: string[] = [];
    const before = countErrors(built);
    const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => nc.request("echo", `m${i}`, { timeout: 2000 })));
    before.stop();
    expect(replies.map((r) => r.string())).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`));
    expect(built, "RequestErrors constructed during 50 successful requests").toEqual([]);
  });

  it("still rejects a request nobody answers in time, and one with no responders", async () => {
    nc.subscribe("silent", { callback: () => undefined });
    await nc.flush();
    await expect(nc.request("silent", "x", { timeout: 150 })).rejects.toThrow(/timeout/i);
    await expect(nc.request("nobody.listens", "x", { timeout: 1000 })).rejects.toThrow(/no responders/i);
  });
});

/**
 * Counts RequestErrors built until stop(): swaps the class on the library's own errors module
 * (the object request.js reads it from at every construction) for a counting subclass.
 */
function countErrors(into: string[]): { stop(): void } {
  const require = createRequire(import.meta.url);
  const errorsPath = path.join(path.dirname(require.resolve("@nats-io/nats-core")), "errors.js");
  const errors = require(errorsPath) as { RequestError: new (...a: unknown[]) => Error; errors: { RequestError: unknown } };
  const Original = errors.RequestError;
  class Counting extends Original {
    constructor(...args: unknown[]) {
      super(...args);
      into.push(`RequestError(${String(args[0])})`);
    }
  }
  errors.RequestError = Counting;
  errors.errors.RequestError = Counting;
  return {
    stop() {
      errors.RequestError = Original;
      errors.errors.RequestError = Original;
    },
  };
}

describe("patchNatsWrites", () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  beforeAll(async () => {
    nats = await startNats();
    nc = await connectNats(nats.url, "nats-write-test", log);
  }, 30_000);
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  it("is in place for the pinned @nats-io/nats-core", () => {
    expect(patchNatsWrites()).toBe(true);
  });

  it("sends what one event-loop turn published in one socket write, in order", async () => {
    const got: string[] = [];
    const sub = nc.subscribe("burst", { callback: (_e, m) => void got.push(m.string()) });
    await nc.flush();
    const transport = (nc as unknown as { protocol: { transport: { send(frame: Uint8Array): void } } }).protocol.transport;
    const send = transport.send.bind(transport);
    let writes = 0;
    transport.send = (frame: Uint8Array) => {
      writes++;
      send(frame);
    };
    try {
      // Ten bursts, each ended by a microtask boundary (as awaits between handlers are): the
      // library alone flushes after each one.
      await new Promise<void>((resolve) => {
        setImmediate(async () => {
          for (let i = 0; i < 10; i++) {
            nc.publish("burst", `m${i}`);
            await Promise.resolve();
          }
          resolve();
        });
      });
      await new Promise((r) => setImmediate(r));
      expect(writes, "socket writes for ten bursts in one turn").toBe(1);
    } finally {
      transport.send = send;
    }
    await nc.flush();
    sub.unsubscribe();
    expect(got).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
  });
});
