// A 3-node NATS cluster (R3 streams and buckets, SY_REPLICAS=3) under a steady stream of
// submits: kill -9 one node and restart it, then kill -9 the leader of SY_CMD and restart it.
// Every task submitted must complete exactly once, and SSE clients that follow tasks across
// both faults (reconnecting with Last-Event-ID) must see the full stream with no gap.
import { type Fleet, type NatsCluster, startFleet, startNatsCluster } from "@switchyard/devkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { http } from "../src/http.ts";
import { readStream } from "../src/sse.ts";
import {
  describeEvents,
  eventsUrl,
  FAST_KERNEL_ENV,
  FAST_RUNNER_ENV,
  FOUR_ROUNDS,
  followResilient,
  getTask,
  putAgents,
  type ResilientFollower,
  report,
  secs,
  sleep,
  statusOf,
  TERMINAL,
  terminalEvents,
} from "../src/support.ts";

let cluster: NatsCluster;
let fleet: Fleet;
let G: string;

beforeAll(async () => {
  cluster = await startNatsCluster();
  fleet = await startFleet({
    natsUrl: cluster.url,
    runnerNodes: 2,
    env: { LOG_LEVEL: "info", SY_REPLICAS: "3", LEASE_GRACE_MS: "2000", REAPER_INTERVAL_MS: FAST_KERNEL_ENV.REAPER_INTERVAL_MS },
    runnerEnv: FAST_RUNNER_ENV,
    readyTimeoutMs: 60_000,
  });
  G = fleet.gatewayUrl;
  await putAgents(G, {
    "cluster-rounds": { ...FOUR_ROUNDS, retry: { max_attempts: 6, initial_backoff_ms: 200, max_backoff_ms: 2000 } },
    "cluster-short": {
      model: "scripted",
      tools: ["sleep"],
      script: [{ text: "working", tool: { name: "sleep", args: { ms: 200 } } }, { text: "done {{input}}" }],
      // A claim whose reply is lost in a fault costs an attempt (runner_lost): leave room for two faults.
      retry: { max_attempts: 6, initial_backoff_ms: 200, max_backoff_ms: 2000 },
    },
  });
}, 120_000);

afterAll(async () => {
  await fleet?.stop();
  await cluster?.stop();
});

/** A client that submits with an Idempotency-Key and retries the same key until it gets a 202. */
async function submitWithRetry(agent: string, input: string, key: string, deadlineMs: number): Promise<string> {
  const deadline = Date.now() + deadlineMs;
  let last = "";
  for (;;) {
    try {
      const res = await http("POST", `${G}/v1/tasks`, { agent, input }, { "idempotency-key": key });
      if (res.status === 202) return res.body.id as string;
      last = `${res.status} ${JSON.stringify(res.body)}`;
    } catch (err) {
      last = String(err);
    }
    if (Date.now() > deadline) throw new Error(`submit ${key} not accepted within ${secs(deadlineMs)}; last answer: ${last}`);
    await sleep(250);
  }
}

/** Steady load: one short task every `everyMs` until stopped; every accepted task's id by key. */
function steadyLoad(everyMs: number, max: number) {
  const ids = new Map<string, string>();
  const errors: string[] = [];
  let stopped = false;
  const inFlight: Promise<void>[] = [];
  const done = (async () => {
    for (let i = 0; i < max && !stopped; i++) {
      const key = `cluster-load-${Date.now()}-${i}`;
      inFlight.push(
        submitWithRetry("cluster-short", `load ${i}`, key, 60_000).then(
          (id) => void ids.set(key, id),
          (err: unknown) => void errors.push(String(err)),
        ),
      );
      await sleep(everyMs);
    }
    await Promise.all(inFlight);
  })();
  return {
    ids,
    errors,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

/** Submits probe tasks until one completes; the time from `since` to that completion. */
async function recoveredAfter(since: number, label: string): Promise<number> {
  for (let i = 0; ; i++) {
    const id = await submitWithRetry("cluster-short", `probe ${label} ${i}`, `cluster-probe-${label}-${since}-${i}`, 60_000);
    for (let j = 0; j < 100; j++) {
      const t = await getTask(G, id).catch(() => null);
      if (t?.status === "completed") return Date.now() - since;
      if (t && TERMINAL.has(t.status)) break;
      await sleep(100);
    }
    if (Date.now() - since > 90_000) throw new Error(`no probe task completed within 90 s of ${label}`);
  }
}

async function waitTerminal(id: string, timeoutMs: number): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  let last: any = null;
  while (Date.now() < deadline) {
    last = await getTask(G, id).catch(() => last);
    if (last && TERMINAL.has(last.status)) return last;
    await sleep(200);
  }
  throw new Error(`task ${id} not terminal within ${secs(timeoutMs)}; last GET: ${JSON.stringify(last)}`);
}

const step = (t0: number, what: string) => console.log(`[cluster] ${secs(Date.now() - t0)} ${what}`);

describe("NATS cluster (R3)", () => {
  it("loses and doubles no task when a node, then the SY_CMD stream leader, is killed under load; SSE clients resume with no gap", async () => {
    const t0 = Date.now();
    const load = steadyLoad(150, 300);
    // Long tasks followed over SSE across both faults.
    const followedIds: string[] = [];
    for (let i = 0; i < 4; i++) followedIds.push(await submitWithRetry("cluster-rounds", `followed ${i}`, `cluster-followed-${t0}-${i}`, 30_000));
    const followers: ResilientFollower[] = followedIds.map((id) => followResilient(eventsUrl(G, id), { deadlineMs: 150_000, stallMs: 15_000 }));
    await sleep(1500);

    // Fault 1: kill -9 a node that does not lead SY_CMD (the leader is the second fault), then restart it.
    const cmdLeader1 = await cluster.streamLeader("SY_CMD");
    const victim = cluster.nodes.find((n) => n !== cmdLeader1)!;
    const k1 = Date.now();
    step(t0, `kill -9 ${victim.name}`);
    await victim.kill("SIGKILL");
    // The SSE clients lose their connections too and resume with Last-Event-ID.
    for (const f of followers) f.drop();
    const recovery1 = await recoveredAfter(k1, "node-kill");
    step(t0, `recovered after ${secs(recovery1)}; restart ${victim.name}`);
    await sleep(1000);
    await victim.restart();
    await cluster.waitForMetaLeader(60_000);
    const back1 = Date.now() - k1;

    // More long tasks started between the faults, followed across the second one.
    for (let i = 0; i < 2; i++) {
      const id = await submitWithRetry("cluster-rounds", `followed-b ${i}`, `cluster-followed-b-${t0}-${i}`, 30_000);
      followedIds.push(id);
      followers.push(followResilient(eventsUrl(G, id), { deadlineMs: 150_000, stallMs: 15_000 }));
    }
    await sleep(1500);

    // Fault 2: kill -9 the node that leads SY_CMD now, then restart it.
    let leader = await cluster.streamLeader("SY_CMD");
    for (let i = 0; !leader && i < 50; i++) {
      await sleep(200);
      leader = await cluster.streamLeader("SY_CMD");
    }
    expect(leader, "a SY_CMD stream leader is known (from /jsz)").toBeDefined();
    const eventsLeader = await cluster.streamLeader("SY_EVENTS");
    const k2 = Date.now();
    step(t0, `kill -9 SY_CMD leader ${leader!.name}`);
    await leader!.kill("SIGKILL");
    for (const f of followers) f.drop();
    const recovery2 = await recoveredAfter(k2, "leader-kill");
    const newLeader = await cluster.streamLeader("SY_CMD");
    await sleep(1000);
    await leader!.restart();
    await cluster.waitForMetaLeader(60_000);

    step(t0, `recovered after ${secs(recovery2)}; ${leader!.name} restarted`);
    await sleep(2000);
    await load.stop();
    step(t0, `load stopped: ${load.ids.size} accepted, ${load.errors.length} refused`);
    expect(load.errors, "every submit was accepted in the end (a client retrying the same Idempotency-Key)").toEqual([]);

    // 0 lost, 0 doubled: every accepted task completes, with exactly one terminal status event.
    const loadIds = [...load.ids.values()];
    expect(new Set(loadIds).size, "one task per Idempotency-Key").toBe(loadIds.length);
    const problems: string[] = [];
    let extraAttempts = 0;
    for (const id of [...loadIds, ...followedIds]) {
      const task = await waitTerminal(id, 120_000);
      if (task.status !== "completed") problems.push(`${id}: ${task.status} ${JSON.stringify(task.error)}`);
      if (task.attempt > 1) extraAttempts++;
    }
    for (const id of loadIds) {
      const events = await readStream(eventsUrl(G, id));
      const terminal = terminalEvents(events).map(statusOf);
      if (terminal.length !== 1 || terminal[0] !== "completed") problems.push(`${id}: terminal events ${JSON.stringify(terminal)}: ${describeEvents(events)}`);
    }
    step(t0, "every task terminal");
    const listed = await http("GET", `${G}/v1/tasks?agent=cluster-short&limit=500`);
    const listedLoad = (listed.body.items as { input: string }[]).filter((t) => t.input.startsWith("load ")).length;
    expect(listedLoad, "the task list holds each load task once").toBe(loadIds.length);
    expect(problems, "every task completed exactly once").toEqual([]);

    // SSE clients that followed across the faults got the whole stream, in order, once.
    const gaps: string[] = [];
    let reconnects = 0;
    for (const [i, f] of followers.entries()) {
      const got = await f.done;
      const id = followedIds[i]!;
      reconnects += f.reconnects;
      const full = await readStream(eventsUrl(G, id));
      expect(terminalEvents(got).map(statusOf), `${id}: exactly one terminal status; saw ${describeEvents(got)}`).toEqual(["completed"]);
      if (JSON.stringify(got.map((e) => e.id)) !== JSON.stringify(full.map((e) => e.id)))
        gaps.push(`${id}: got ${describeEvents(got)}\nfull ${describeEvents(full)}`);
    }
    expect(gaps, "what each follower got over its connections equals the full stream").toEqual([]);
    expect(reconnects, "the followers resumed after each fault").toBeGreaterThanOrEqual(followers.length);

    report(
      `3-node NATS cluster, R3, steady submits: kill -9 ${victim.name} → a new task completes ${secs(recovery1)} after the kill (node back ${secs(back1)}); ` +
        `kill -9 SY_CMD leader ${leader!.name} (SY_EVENTS leader was ${eventsLeader?.name ?? "?"}; new SY_CMD leader ${newLeader?.name ?? "?"}) → recovered in ${secs(recovery2)}; ` +
        `${loadIds.length + followedIds.length} tasks: 0 lost, 0 doubled (${extraAttempts} needed a second attempt); ` +
        `${followers.length} SSE followers, ${reconnects} reconnect(s), no gap`,
    );
  }, 400_000);
});
