// SSE fan-out over real processes: the followers of a running task are served from the
// gateway's one live consumer and the task's ring, with no consumer of their own; a late joiner
// the ring no longer covers reads the history with a consumer of its own first, a client too
// slow to keep up falls back to one; every follower gets the same events, in order, without a
// gap, ending in the terminal status.
import http from "node:http";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { STREAMS } from "@switchyard/contracts";
import { type Fleet, startFleet } from "@switchyard/devkit";
import { createParser } from "eventsource-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { http as request } from "../src/http.ts";
import { openStream, readStream } from "../src/sse.ts";
import { statusOf, submit as submitTask } from "../src/support.ts";

let fleet: Fleet;
let G: string;
let nc: NatsConnection;

// Small bounds so the fallbacks happen with a modest amount of text.
const TAIL_BUFFER_BYTES = 64 * 1024;
const FOLLOWER_BUFFER_BYTES = 64 * 1024;

beforeAll(async () => {
  fleet = await startFleet({
    runnerNodes: 1,
    env: { LOG_LEVEL: "info", SSE_TAIL_BUFFER_BYTES: String(TAIL_BUFFER_BYTES), SSE_FOLLOWER_BUFFER_BYTES: String(FOLLOWER_BUFFER_BYTES) },
    runnerEnv: { TEXT_CHUNK_CHARS: "8" },
  });
  G = fleet.gatewayUrl;
  nc = await connect({ servers: fleet.natsUrl, name: "streaming-test" });
  const defs = {
    // Waits first, so followers can gather, then a few paced rounds.
    "stream-paced": {
      model: "scripted",
      tools: ["sleep"],
      script: [
        { sleep_ms: 1500, text: "first", tool: { name: "sleep", args: { ms: 300 } } },
        { text: "second", tool: { name: "sleep", args: { ms: 300 } } },
        { text: "done" },
      ],
    },
    // Streams its input, then waits: a late joiner arrives after the ring dropped the start.
    "stream-late": {
      model: "scripted",
      tools: ["sleep"],
      script: [{ text: "{{input}}", tool: { name: "sleep", args: { ms: 1500 } } }, { text: "done" }],
    },
    // Streams twice its input twice over, in small deltas: megabytes of SSE frames.
    "stream-big": {
      model: "scripted",
      tools: ["sleep"],
      script: [{ text: "{{input}}{{input}}", tool: { name: "sleep", args: { ms: 10 } } }, { text: "{{input}}{{input}}" }],
    },
  };
  for (const [name, def] of Object.entries(defs)) {
    const res = await request("PUT", `${G}/v1/agents/${name}`, def);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  }
});

afterAll(async () => {
  await nc?.close();
  await fleet?.stop();
});

const submit = (agent: string, input: string) => submitTask(G, agent, input);
const eventsUrl = (id: string) => `${G}/v1/tasks/${id}/events`;
const ids = (evs: { id: number }[]) => evs.map((e) => e.id);

async function consumerCount(): Promise<number> {
  const jsm = await jetstreamManager(nc);
  return (await jsm.streams.info(STREAMS.events)).state.consumer_count;
}

describe("followers of a running task", () => {
  it("need no consumer of their own and each receive the whole stream", async () => {
    const id = await submit("stream-paced", "x");
    const first = openStream(eventsUrl(id));
    await first.waitFor((e) => statusOf(e) === "running");
    const before = await consumerCount();
    // 24 more join while the agent waits: all from the task's ring (it was submitted here).
    const more = Array.from({ length: 24 }, () => openStream(eventsUrl(id)));
    await Promise.all(more.map((s) => s.waitFor((e) => statusOf(e) === "running")));
    const during = await consumerCount();
    expect(during - before, `consumers on ${STREAMS.events} while 25 clients follow one task`).toBeLessThanOrEqual(0);

    const all = await Promise.all([first, ...more].map((s) => s.done));
    const full = await readStream(eventsUrl(id)); // after the end: read from JetStream alone
    expect(statusOf(full.at(-1)!)).toBe("completed");
    for (const got of all) expect(ids(got)).toEqual(ids(full));
  });

  it("serves a late joiner whose start the ring no longer holds from its own consumer, without a gap", async () => {
    const id = await submit("stream-late", "y".repeat(16 * 1024)); // 2,048 deltas: more than the ring keeps
    const early = openStream(eventsUrl(id));
    // The first round's text is out (more than TAIL_BUFFER_BYTES); the agent now sleeps.
    await early.waitFor((e) => e.type === "tool.call", 30_000);
    const late = openStream(eventsUrl(id)); // from the start: the ring dropped it already
    const [a, b] = await Promise.all([early.done, late.done]);
    const full = await readStream(eventsUrl(id));
    expect(statusOf(full.at(-1)!)).toBe("completed");
    expect(ids(a)).toEqual(ids(full));
    expect(ids(b)).toEqual(ids(full));
  });

  it("detaches a client that stops reading, and it still gets every event once it reads again", async () => {
    // 256 KB of text in 8-character deltas ≈ 7 MB of frames: more than the sockets' kernel
    // buffers absorb on loopback, so the gateway's own buffer for this client grows.
    const id = await submit("stream-big", "z".repeat(64 * 1024));
    const detached = fleet.services.gateway.waitForLog((l) => String(l.msg).startsWith("slow follower detached") && l.task_id === id, 60_000);
    const prompt = openStream(eventsUrl(id));
    // A client that reads its first bytes, then nothing until the task has finished.
    const slow = await pausedReader(eventsUrl(id));
    await detached; // the gateway gave up on writing it through the live feed
    const quick = await prompt.done;
    expect(statusOf(quick.at(-1)!), JSON.stringify(quick.at(-1)?.data.data)).toBe("completed");
    const got = await slow.resumeAndRead();
    const full = await readStream(eventsUrl(id));
    expect(ids(got)).toEqual(ids(full));
    expect(ids(quick)).toEqual(ids(full));
    expect(new Set(ids(got)).size, "no event twice").toBe(got.length);
  });
});

/** An SSE client that stops reading after the response head, until resumeAndRead(). */
function pausedReader(url: string): Promise<{ resumeAndRead(): Promise<{ id: number; type: string }[]> }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { accept: "text/event-stream" } }, (res) => {
      res.pause();
      const events: { id: number; type: string }[] = [];
      const parser = createParser({ onEvent: (e) => events.push({ id: Number(e.id), type: e.event ?? "message" }) });
      resolve({
        resumeAndRead: () =>
          new Promise((done, fail) => {
            res.setEncoding("utf8");
            res.on("data", (chunk: string) => parser.feed(chunk));
            res.on("end", () => done(events));
            res.on("error", fail);
            res.resume();
          }),
      });
    });
    req.on("error", reject);
  });
}
