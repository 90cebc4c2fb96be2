// The gateway's one live consumer (ARCHITECTURE.md §6) against a real nats-server: a feed
// registered before a task's first event holds every one of them, once and in order, also across
// a NATS restart (the consumer resumes after the last event it delivered); a feed registered
// later is complete only above what the hub had delivered; rings stay within their bounds.
import { subjects } from "@switchyard/contracts";
import { type NatsServer, startNats } from "@switchyard/devkit";
import { buildEvent, connectNats, createLogger, ensureTopology, type NatsConnection, newTaskId, publishEvent, type Topology } from "@switchyard/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventHub, type TailEvent } from "./event-hub.ts";

const log = createLogger("event-hub-test", { level: "silent", format: "json" });

let nats: NatsServer;
let nc: NatsConnection;
let topo: Topology;

beforeAll(async () => {
  nats = await startNats();
  nc = await connectNats(nats.url, "event-hub-test", log);
  topo = await ensureTopology(nc, { EVENTS_MAX_AGE_HOURS: 1, EVENTS_MAX_MB: 64, CMD_DUPLICATE_WINDOW_S: 60 });
}, 30_000);
afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

const newTarget = () => ({ tenant: "acme", agent: "hello", task_id: newTaskId() });
type Target = ReturnType<typeof newTarget>;

async function publish(target: Target, n: number, from = 0): Promise<number[]> {
  const seqs: number[] = [];
  for (let i = from; i < from + n; i++) {
    const ack = await publishEvent(topo.js, target, buildEvent(target, "run-1", 1, "text.delta", { round: 1, delta: `d${i}` }), `${target.task_id}:${i}`);
    seqs.push(ack.seq);
  }
  return seqs;
}

async function until(what: string, pred: () => boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const hubOf = (opts: Partial<{ taskBytes: number; totalBytes: number }> = {}) =>
  new EventHub(topo.js, topo.jsm, log, { taskBytes: 1024 * 1024, totalBytes: 64 * 1024 * 1024, lingerMs: 60_000, idleMs: 60_000, ...opts });

describe("EventHub", () => {
  it("gives a task registered before its first event every event once, in order, across a NATS restart", async () => {
    const hub = hubOf();
    await hub.start();
    try {
      const target = newTarget();
      const other = newTarget();
      hub.expect(target.tenant, target.agent, target.task_id);
      const hold = hub.hold(subjects.events(target.tenant, target.agent, target.task_id), false);
      expect(hold?.completeFromStart).toBe(true);
      const got: number[] = [];
      const at = { sent: 0, through: 0 };
      expect(hold?.join(at, { onEvent: (e: TailEvent) => got.push(e.seq) })).toBe(true);

      const want = await publish(target, 20);
      await publish(other, 5); // nobody here follows it
      await until("the first events", () => got.length === 20);

      await nats.restart();
      await until("a reconnect", () => !nc.isClosed() && nc.info !== undefined);
      // Published while the hub's consumer may still be re-creating itself: none may be lost.
      for (;;) {
        try {
          want.push(...(await publish(target, 20, 20)));
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      await until("the events after the restart", () => got.length >= want.length);
      expect(got).toEqual(want);
      expect(hub.hold(subjects.events(other.tenant, other.agent, other.task_id), false), "no feed for a task nobody registered").toBeNull();
      hold?.release();
    } finally {
      await hub.stop();
    }
  }, 60_000);

  it("holds a task registered late only above what it had delivered, and a follower joins once it has the rest", async () => {
    const hub = hubOf();
    await hub.start();
    try {
      const target = newTarget();
      const before = await publish(target, 5);
      await until("the hub to pass them", () => hub.delivered >= before.at(-1)!);
      const hold = hub.hold(subjects.events(target.tenant, target.agent, target.task_id), true)!;
      expect(hold.completeFromStart).toBe(false);
      const listener = { onEvent: () => undefined };
      expect(hold.join({ sent: 0, through: 0 }, listener), "history is missing").toBe(false);
      expect(hold.join({ sent: before[2]!, through: before[2]! }, listener), "history is still missing").toBe(false);
      const got: number[] = [];
      const through = hub.delivered; // what a replay that found nothing more pending proves
      expect(hold.join({ sent: before.at(-1)!, through }, { onEvent: (e) => got.push(e.seq) })).toBe(true);
      const after = await publish(target, 5, 5);
      await until("the live events", () => got.length === 5);
      expect(got).toEqual(after);
      hold.release();
    } finally {
      await hub.stop();
    }
  }, 30_000);

  it("takes a follower's history into a late ring only when it reaches the ring and fits", async () => {
    const hub = hubOf({ taskBytes: 8 * 1024 });
    await hub.start();
    try {
      const target = newTarget();
      const subject = subjects.events(target.tenant, target.agent, target.task_id);
      const before = await publish(target, 5);
      await until("the hub to pass them", () => hub.delivered >= before.at(-1)!);
      const hold = hub.hold(subject, true)!;
      const history = before.map((seq) => ({ seq, type: "text.delta", attempt: 1, terminal: false, frame: Buffer.from(`id: ${seq}\n\n`) }));
      // Not reaching the ring (the follower has events only up to the third): ignored.
      hold.fill(0, history.slice(0, 3), { sent: before[2]!, through: before[2]! });
      expect(hold.completeFromStart).toBe(false);
      // Too big for the per-task bound: ignored.
      const huge = history.map((e) => ({ ...e, frame: Buffer.alloc(4096) }));
      hold.fill(0, huge, { sent: before.at(-1)!, through: hub.delivered });
      expect(hold.completeFromStart).toBe(false);
      // The whole history up to where the ring starts: the ring is complete from the start.
      hold.fill(0, history, { sent: before.at(-1)!, through: hub.delivered });
      expect(hold.completeFromStart).toBe(true);
      const after = await publish(target, 3, 5);
      await until("the hub to pass them", () => hub.delivered >= after.at(-1)!);
      const other = hub.hold(subject, false)!;
      const got: number[] = [];
      expect(other.join({ sent: 0, through: 0 }, { onEvent: (e) => got.push(e.seq) })).toBe(true);
      expect(got).toEqual([...before, ...after]);
      other.release();
      hold.release();
    } finally {
      await hub.stop();
    }
  }, 30_000);

  it("keeps rings within the per-task and global bounds, and a cleared ring no longer serves old points", async () => {
    const hub = hubOf({ taskBytes: 4096, totalBytes: 6 * 1024 });
    await hub.start();
    try {
      const unheld = newTarget();
      const held = newTarget();
      const third = newTarget();
      // Registered oldest first: the global bound clears rings in this order.
      hub.expect(unheld.tenant, unheld.agent, unheld.task_id);
      hub.expect(held.tenant, held.agent, held.task_id);
      const hold = hub.hold(subjects.events(held.tenant, held.agent, held.task_id), false)!;
      const seqs = await publish(held, 40);
      await until("the hub to pass them", () => hub.delivered >= seqs.at(-1)!);
      expect(hold.completeFromStart, "the per-task bound dropped the oldest").toBe(false);
      expect(hold.covers({ sent: 0, through: 0 })).toBe(false);
      expect(hub.bytes).toBeLessThanOrEqual(4096);
      // Over the global bound twice: first the unheld ring goes, then the held one is emptied.
      const more = await publish(unheld, 40);
      await until("the hub to pass them", () => hub.delivered >= more.at(-1)!);
      hub.expect(third.tenant, third.agent, third.task_id);
      const yetMore = await publish(third, 40);
      await until("the hub to pass them", () => hub.delivered >= yetMore.at(-1)!);
      expect(hub.bytes).toBeLessThanOrEqual(6 * 1024);
      expect(hub.hold(subjects.events(unheld.tenant, unheld.agent, unheld.task_id), false), "a ring nobody holds is dropped").toBeNull();
      const last = seqs.at(-1)!;
      const listener = { onEvent: () => undefined };
      expect(hold.join({ sent: last, through: last }, listener), "the cleared ring is complete only above what the hub had delivered").toBe(false);
      const got: number[] = [];
      expect(hold.join({ sent: last, through: hub.delivered }, { onEvent: (e) => got.push(e.seq) }), "live from there").toBe(true);
      const live = await publish(held, 3, 40);
      await until("the live events", () => got.length === 3);
      expect(got).toEqual(live);
      hold.release();
    } finally {
      await hub.stop();
    }
  }, 30_000);
});
