// Infrastructure faults over real processes: idempotent submit after the JetStream duplicate
// window, Redis restarting empty mid-run, and NATS (file storage) restarting mid-run with SSE
// clients attached. Checked through HTTP, SSE and Redis, as a client would see them.
import { redisKeys } from "@switchyard/contracts";
import { type Fleet, startFleet } from "@switchyard/devkit";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, http } from "../src/http.ts";
import { openStream, readStream } from "../src/sse.ts";
import {
  describeEvents,
  eventsUrl,
  FAST_RUNNER_ENV,
  FOUR_ROUNDS,
  followResilient,
  getTask,
  putAgents,
  report,
  secs,
  sleep,
  statusOf,
  statusTrail,
  submit,
  terminalEvents,
  untilTerminal,
} from "../src/support.ts";

let fleet: Fleet;
let G: string;
let redis: Redis;

beforeAll(async () => {
  fleet = await startFleet({
    runnerNodes: 1,
    // Default lease grace (2 s): it must cover a Redis restart. A 1 s duplicate window to outlive.
    env: { LOG_LEVEL: "info", LEASE_GRACE_MS: "2000", REAPER_INTERVAL_MS: "250", CMD_DUPLICATE_WINDOW_S: "1" },
    runnerEnv: FAST_RUNNER_ENV,
  });
  G = fleet.gatewayUrl;
  redis = new Redis(fleet.redisUrl, { maxRetriesPerRequest: null });
  await putAgents(G, {
    "fault-rounds": FOUR_ROUNDS,
    "fault-hello": {
      model: "scripted",
      tools: ["echo"],
      script: [{ text: "hi", tool: { name: "echo", args: { q: "{{input}}" } } }, { text: "Done: {{input}}" }],
    },
  });
});

afterAll(async () => {
  redis?.disconnect();
  await fleet?.stop();
});

describe("idempotency", () => {
  it("returns the same task for the same Idempotency-Key after the JetStream duplicate window passed", async () => {
    const key = `fault-idem-${Date.now()}`;
    const a = await http("POST", `${G}/v1/tasks`, { agent: "fault-hello", input: "once" }, { "idempotency-key": key });
    expect(a.status, JSON.stringify(a.body)).toBe(202);
    await sleep(2500);
    const b = await http("POST", `${G}/v1/tasks`, { agent: "fault-hello", input: "once" }, { "idempotency-key": key });
    expect(b.status, JSON.stringify(b.body)).toBe(202);
    expect(b.body, "second submit after the 1 s window").toMatchObject({ id: a.body.id, duplicate: true });
    expect(a.body.duplicate).toBe(false);
    const events = await readStream(eventsUrl(G, a.body.id));
    expect(statusTrail(events)).toEqual(["queued#1", "running#1", "completed#1"]);
    const listed = (await http("GET", `${G}/v1/tasks?agent=fault-hello&limit=500`)).body.items as { input: string }[];
    expect(
      listed.filter((t) => t.input === "once"),
      "one task for the key",
    ).toHaveLength(1);
    report(`same Idempotency-Key 2.5 s apart with CMD_DUPLICATE_WINDOW_S=1 → same task id, duplicate: true; one task ran`);
  });
});

describe("Redis restart", () => {
  it("loses and doubles nothing when Redis restarts empty mid-run; leases and the replay cache come back", async () => {
    const ids = [await submit(G, "fault-rounds", "r1"), await submit(G, "fault-rounds", "r2")];
    const streams = ids.map((id) => openStream(eventsUrl(G, id)));
    await Promise.all(streams.map((s) => s.waitFor((e) => e.type === "tool.call" && e.data.data.round === 1, 15_000)));
    const runIds = await Promise.all(ids.map(async (id) => (await getTask(G, id)).run_id as string));

    const t0 = Date.now();
    await fleet.redis!.kill("SIGKILL");
    await fleet.redis!.restart();
    const upAt = Date.now();
    const keysRightAfter = await redis.dbsize();

    // The runner re-asserts the lease on its next beat; the next event refills the cache.
    const leaseBack = await Promise.all(
      ids.map((id, i) =>
        eventually(async () => (await redis.get(redisKeys.lease(id))) === runIds[i] && Date.now(), 10_000, `lease of ${id} back`).catch(() => 0),
      ),
    );
    const cacheBack = await Promise.all(
      ids.map((id) =>
        eventually(
          async () => {
            const h = await redis.hgetall(redisKeys.run(id));
            return Object.keys(h).length > 0 ? { at: Date.now(), h } : null;
          },
          10_000,
          `replay cache of ${id} back`,
        ).catch(() => null),
      ),
    );
    // What a user sees of the cache: GET shows `live` only when the cache names the current run.
    const liveAgain = await Promise.all(
      ids.map(async (id, i) => {
        for (;;) {
          const t = await getTask(G, id);
          if (t.live?.run_id === runIds[i]) return true;
          if (t.status !== "running") return false;
          await sleep(100);
        }
      }),
    );
    const all = await Promise.all(ids.map((id, i) => untilTerminal(G, id, streams[i]!, 30_000)));
    for (const [i, events] of all.entries()) {
      const seen = describeEvents(events);
      expect(terminalEvents(events).map(statusOf), `${ids[i]}: exactly one terminal status; saw ${seen}`).toEqual(["completed"]);
      expect(statusTrail(events), `${ids[i]}: the grace period covers the restart, so no new attempt; saw ${seen}`).toEqual([
        "queued#1",
        "running#1",
        "completed#1",
      ]);
      expect(await getTask(G, ids[i]!)).toMatchObject({ status: "completed", attempt: 1 });
    }
    for (const [i, at] of leaseBack.entries()) expect(at, `sy:lease:${ids[i]} = ${runIds[i]} reappeared after the restart`).toBeGreaterThan(0);
    for (const [i, c] of cacheBack.entries()) {
      expect(c, `sy:run:${ids[i]} reappeared after the restart`).not.toBeNull();
      // GET /v1/tasks/:id shows live fields only when the cache names the current run.
    }
    for (const [i, shown] of liveAgain.entries()) {
      expect
        .soft(
          shown,
          `GET /v1/tasks/${ids[i]} shows live fields of run ${runIds[i]} again while it still runs (sy:run hash after the restart: ${JSON.stringify(cacheBack[i]?.h)})`,
        )
        .toBe(true);
    }
    const lastLease = Math.max(...leaseBack) - upAt;
    const lastCache = Math.max(...cacheBack.map((c) => c!.at)) - upAt;
    report(
      `redis kill -9 + restart empty mid-run (back in ${secs(upAt - t0)}, ${keysRightAfter} keys right after) → leases back ${secs(lastLease)} and replay cache ` +
        `back ${secs(lastCache)} after; ${ids.length}/${ids.length} tasks completed on attempt 1, none lost or doubled`,
    );
  });
});

describe("NATS restart", () => {
  it("completes running tasks after NATS restarts, and clients that lost the stream resume with no gap and no duplicate", async () => {
    const ids = [await submit(G, "fault-rounds", "n1"), await submit(G, "fault-rounds", "n2"), await submit(G, "fault-rounds", "n3")];
    const followers = ids.map((id) => followResilient(eventsUrl(G, id), { deadlineMs: 90_000, stallMs: 10_000 }));
    const deadline = Date.now() + 15_000;
    while (!followers.every((f) => f.events.some((e) => e.type === "tool.call"))) {
      if (Date.now() > deadline) throw new Error(`not all tasks started: ${followers.map((f) => describeEvents(f.events)).join(" | ")}`);
      await sleep(50);
    }

    const t0 = Date.now();
    await fleet.nats!.stop();
    const downAt = Date.now();
    // One client also loses its connection while NATS is down and keeps trying to resume.
    followers[0]!.drop();
    await sleep(1000);
    await fleet.nats!.restart();
    const upAt = Date.now();
    const streams = await Promise.all(followers.map((f) => f.done));

    const lines: string[] = [];
    for (const [i, got] of streams.entries()) {
      const id = ids[i]!;
      const f = followers[i]!;
      const seen = describeEvents(got);
      expect(terminalEvents(got).map(statusOf), `${id}: exactly one terminal status (${f.reconnects} reconnects, ${f.stalls} stalls); saw ${seen}`).toEqual([
        "completed",
      ]);
      const full = await readStream(eventsUrl(G, id));
      expect(
        got.map((e) => e.id),
        `${id}: what the client got over ${f.reconnects + 1} connection(s) equals the full stream\n got: ${seen}\nfull: ${describeEvents(full)}`,
      ).toEqual(full.map((e) => e.id));
      expect(got.map((e) => e.data)).toEqual(full.map((e) => e.data));
      const task = await getTask(G, id);
      expect(task.status).toBe("completed");
      const requeued = got
        .filter((e) => statusOf(e) === "queued" && e.data.attempt > 1)
        .map((e) => `${(e.data.data.error as { code?: string })?.code} at ${secs(e.receivedAt - t0)}`);
      lines.push(
        `…${id.slice(-4)}: attempt ${task.attempt}${requeued.length ? ` (re-queued: ${requeued.join(", ")})` : ""}, ${f.reconnects} reconnect(s), done at ${secs(got.at(-1)!.receivedAt - t0)}`,
      );
      expect(f.stalls, `${id}: a connection went silent for 10 s without ending (a client would hang); saw ${seen}`).toBe(0);
    }
    // Every service noticed the outage and reconnected.
    const reconnected = [fleet.services.kernel, fleet.services.gateway, ...fleet.services.runners, fleet.services.spawner].map(
      (s) => `${s.label} ${s.logs().some((l) => l.includes('"nats":"reconnect"')) ? "reconnected" : "no reconnect logged"}`,
    );
    report(
      `nats-server stop (SIGTERM) mid-run, down ${secs(upAt - downAt)} (restart ready at ${secs(upAt - t0)}) → ${ids.length}/${ids.length} completed once; ` +
        `${lines.join("; ")}; SSE union = full stream (no gap, no duplicate); ${reconnected.join(", ")}`,
    );
  });
});
