// Live events from one consumer per gateway process (ARCHITECTURE.md §6), over real processes and
// three gateways on one NATS: the one the tasks are submitted through (each task's ring is
// complete from its start there), a second one that never saw the submits (no ring: history
// from the stream, then live), and a third whose rings are cleared all the time (a tiny global
// bound). Whichever way a follower is served, from the start, joining while events flow, or
// resuming after Last-Event-ID, it gets exactly the stored events after its start, each once, in
// order. The reference is read from SY_EVENTS directly; which way was taken is told by the
// JetStream consumer creates the gateways send for the task (none when served from a ring).
import { jetstream } from "@nats-io/jetstream";
import { connect, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { STREAMS, subjects } from "@switchyard/contracts";
import { type Fleet, freePort, type ServiceProcess, startFleet, startService } from "@switchyard/devkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStream, readStream } from "../src/sse.ts";
import { putAgents, statusOf, submit } from "../src/support.ts";

let fleet: Fleet;
let G: string;
let nc: NatsConnection;
const extra: ServiceProcess[] = [];
let G2: string; // never submits: no rings of these tasks
let gateway2: ServiceProcess;
let G3: string; // rings cleared under a 4 KB global bound
let creates: Subscription;
/** Filter subjects of the consumers created on SY_EVENTS, in order. */
const created: string[] = [];

async function startGateway(env: Record<string, string>): Promise<string> {
  const port = await freePort();
  const gw = await startService("gateway", {
    env: { NATS_URL: fleet.natsUrl, REDIS_URL: fleet.redisUrl, PORT: String(port), LOG_LEVEL: "info", ...env },
    label: `gateway-${extra.length + 2}`,
  });
  extra.push(gw);
  return `http://127.0.0.1:${port}`;
}

beforeAll(async () => {
  fleet = await startFleet({ runnerNodes: 1, env: { LOG_LEVEL: "info" }, runnerEnv: { TEXT_CHUNK_CHARS: "8" } });
  G = fleet.gatewayUrl;
  // Debug: the test waits for its "joining the live feed" line. Rings linger for the test's length.
  G2 = await startGateway({ LOG_LEVEL: "debug", SSE_RING_LINGER_MS: "600000" });
  gateway2 = extra[0]!;
  G3 = await startGateway({ SSE_RING_TOTAL_BYTES: "4096" });
  nc = await connect({ servers: fleet.natsUrl, name: "live-feed-test" });
  creates = nc.subscribe(`$JS.API.CONSUMER.CREATE.${STREAMS.events}.>`, {
    callback: (_err, m) => {
      const body = m.json<{ config?: { filter_subject?: string; filter_subjects?: string[] } }>();
      created.push(body.config?.filter_subject ?? body.config?.filter_subjects?.join(",") ?? "");
    },
  });
  await putAgents(G, {
    // A steady flow of small events over a few seconds: followers join while it runs.
    "feed-flow": {
      model: "scripted",
      tools: ["sleep"],
      script: [
        { text: "{{input}}", tool: { name: "sleep", args: { ms: 400 } } },
        { text: "{{input}}", tool: { name: "sleep", args: { ms: 400 } } },
        { text: "{{input}}", tool: { name: "sleep", args: { ms: 400 } } },
        { text: "done" },
      ],
    },
  });
});

afterAll(async () => {
  creates?.unsubscribe();
  await nc?.close();
  await Promise.allSettled(extra.map((g) => g.stop()));
  await fleet?.stop();
});

const url = (gw: string, id: string) => `${gw}/v1/tasks/${id}/events`;
const ids = (evs: { id: number }[]) => evs.map((e) => e.id);

/** The task's stored event seqs, read from SY_EVENTS with a consumer of the test's own. */
async function stored(id: string): Promise<number[]> {
  const js = jetstream(nc);
  const c = await js.consumers.get(STREAMS.events, { filter_subjects: subjects.taskEvents(id) });
  const out: number[] = [];
  if ((await c.info(true)).num_pending > 0) {
    const messages = await c.consume({ max_messages: 256 });
    for await (const m of messages) {
      out.push(m.seq);
      if (m.info.pending === 0) break;
    }
    await messages.close();
  }
  await c.delete().catch(() => undefined);
  return out;
}

/** The gateways' consumer creates for this task's events since `from` (an index into `created`). */
async function createsFor(id: string, from: number): Promise<number> {
  await nc.flush();
  // The test's own reads (stored) filter on sy.events.*.*.<id>; a gateway's name the tenant and agent.
  return created.slice(from).filter((f) => f.endsWith(`.${id}`) && !f.includes("*")).length;
}

function expectExactly(got: { id: number }[], want: number[], what: string): void {
  expect(ids(got), what).toEqual(want);
  expect(new Set(ids(got)).size, `${what}: no event twice`).toBe(got.length);
}

describe("live events from one consumer per gateway", () => {
  it("serves followers on the submitting gateway from its ring, with no consumer of their own", async () => {
    const mark = created.length;
    const id = await submit(G, "feed-flow", "a".repeat(400));
    const first = openStream(url(G, id));
    await first.waitFor((e) => e.type === "tool.call");
    const joiner = openStream(url(G, id)); // joins while events flow
    await joiner.waitFor((e) => e.type === "text.delta");
    const [a, b] = await Promise.all([first.done, joiner.done]);
    const full = await stored(id);
    expect(statusOf(a.at(-1)!)).toBe("completed");
    expectExactly(a, full, "first follower");
    expectExactly(b, full, "follower joining while events flow");
    // Resume after an event from the ring, once the task has finished.
    const mid = full[Math.floor(full.length / 2)]!;
    expectExactly(
      await readStream(url(G, id), { "last-event-id": String(mid) }),
      full.filter((s) => s > mid),
      "resume from the ring",
    );
    expect(await createsFor(id, mark), "consumers created for the task's events").toBe(0);
  });

  it("serves a task submitted through another gateway: history from the stream, then live, each event once", async () => {
    const id = await submit(G, "feed-flow", "b".repeat(400));
    const mark = created.length;
    const fromStart = openStream(url(G2, id));
    // It read the history from the stream and handed it to G2's ring as it joined.
    await gateway2.waitForLog((l) => l.msg === "read history from the stream; joining the live feed" && l.task_id === id && l.from === 0, 20_000);
    const filled = created.length;
    const joiner = openStream(url(G2, id)); // joins while events flow
    const resumed = await fromStart.waitFor((e) => e.type === "tool.result");
    const resumer = openStream(url(G2, id), { "last-event-id": String(resumed.id) });
    const [a, b, c] = await Promise.all([fromStart.done, joiner.done, resumer.done]);
    const full = await stored(id);
    expect(statusOf(a.at(-1)!)).toBe("completed");
    expectExactly(a, full, "follower from the start");
    expectExactly(
      c,
      full.filter((s) => s > resumed.id),
      "follower resuming after Last-Event-ID",
    );
    // The joiner started somewhere in the flow; from there on it has every event.
    expectExactly(b, full, "follower joining while events flow (from the start: no Last-Event-ID)");
    expect(await createsFor(id, mark), "history read from the stream").toBeGreaterThanOrEqual(1);
    // Once a follower from the start has joined, the ring holds the whole task: the later
    // followers from the start (the joiner, one after the end) read nothing from the stream.
    expectExactly(await readStream(url(G2, id)), full, "follower from the start after the end");
    expect(await createsFor(id, filled), "consumers created after the ring was filled").toBe(0);
  });

  it("falls back to the stream when the global byte bound cleared a ring", async () => {
    const id = await submit(G3, "feed-flow", "c".repeat(2000)); // 250 deltas: far more than 4 KB of frames
    const during = openStream(url(G3, id));
    await during.waitFor((e) => e.type === "tool.call");
    const joiner = openStream(url(G3, id));
    const a = await during.done;
    const b = await joiner.done;
    const full = await stored(id);
    expect(statusOf(a.at(-1)!)).toBe("completed");
    expectExactly(a, full, "follower from the submit on");
    expectExactly(b, full, "follower joining while the ring is being cleared");
    const mark = created.length;
    const mid = full[10]!;
    expectExactly(await readStream(url(G3, id)), full, "follower from the start after the end");
    expectExactly(
      await readStream(url(G3, id), { "last-event-id": String(mid) }),
      full.filter((s) => s > mid),
      "resume after the ring was cleared",
    );
    expect(await createsFor(id, mark), "history read from the stream").toBeGreaterThanOrEqual(2);
  });
});
