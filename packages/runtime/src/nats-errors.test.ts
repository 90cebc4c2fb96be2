// The broker-error predicates against a real nats-server: each recognises the error the client
// really raises, and only that one.

import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { type NatsServer, startNats } from "@switchyard/devkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "./logger.ts";
import { connectNats, type NatsConnection } from "./nats.ts";
import { isNoResponders, isRequestTimeout, isStreamNotFound, isWrongLastSequence } from "./nats-errors.ts";

const log = createLogger("nats-errors-test", { level: "silent", format: "json" });

/** The error a promise rejects with (fails the test if it resolves). */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection");
}

describe("broker error predicates", () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  beforeAll(async () => {
    nats = await startNats();
    nc = await connectNats(nats.url, "nats-errors-test", log);
  }, 30_000);
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  it("tells a lost compare-and-set from other KV errors", async () => {
    const kv = await new Kvm(jetstream(nc)).create("errors_test");
    const rev = await kv.put("k", "1");
    await kv.put("k", "2");
    const stale = await rejection(kv.update("k", "3", rev));
    expect(isWrongLastSequence(stale)).toBe(true);
    const exists = await rejection(kv.create("k", "4"));
    expect(isWrongLastSequence(exists)).toBe(true);
    expect(isStreamNotFound(stale)).toBe(false);
    expect(isWrongLastSequence(new Error("wrong last sequence: 1"))).toBe(false);
  });

  it("recognises a missing stream", async () => {
    const jsm = await jetstreamManager(nc);
    const err = await rejection(jsm.streams.info("NO_SUCH_STREAM"));
    expect(isStreamNotFound(err)).toBe(true);
    expect(isWrongLastSequence(err)).toBe(false);
  });

  it("tells no responders from a timeout", async () => {
    const nobody = await rejection(nc.request("nobody.listens", "x", { timeout: 5_000 }));
    expect(isNoResponders(nobody)).toBe(true);
    expect(isRequestTimeout(nobody)).toBe(false);
    const sub = nc.subscribe("never.answers");
    const late = await rejection(nc.request("never.answers", "x", { timeout: 100 }));
    sub.unsubscribe();
    expect(isRequestTimeout(late)).toBe(true);
    expect(isNoResponders(late)).toBe(false);
  });
});
