// Runner faults over real processes: a runner killed mid-task (its lease lapses, the kernel
// re-dispatches from the last checkpoint), a runner frozen and thawed after its task moved on
// (fencing), and a graceful drain on SIGTERM. Checked through SSE, HTTP, Redis and the logs.
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { redisKeys } from "@switchyard/contracts";
import { type Fleet, startFleet } from "@switchyard/devkit";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, http } from "../src/http.ts";
import { openStream, type ReceivedEvent, readStream } from "../src/sse.ts";
import {
  describeEvents,
  ensureRunners,
  eventsUrl,
  FAST_KERNEL_ENV,
  FAST_RUNNER_ENV,
  FOUR_ROUNDS,
  firstLog,
  getTask,
  isStatus,
  ownerNode,
  putAgents,
  report,
  runnerByLabel,
  secs,
  statusOf,
  statusTrail,
  submit,
  terminalEvents,
  untilTerminal,
} from "../src/support.ts";

let fleet: Fleet;
let G: string;
let redis: Redis;

const DRAIN_EXECUTOR = { type: "remote", runner: { kind: "drain", config: {} } };

beforeAll(async () => {
  fleet = await startFleet({
    runnerNodes: 2,
    env: { LOG_LEVEL: "info", ...FAST_KERNEL_ENV },
    runnerEnv: { ...FAST_RUNNER_ENV, DRAIN_TIMEOUT_MS: "1000" },
  });
  G = fleet.gatewayUrl;
  redis = new Redis(fleet.redisUrl);
  await putAgents(G, {
    "fault-rounds": FOUR_ROUNDS,
    "fault-short": {
      model: "scripted",
      executor_overrides: ["drain"],
      tools: ["sleep"],
      script: [{ text: "quick", tool: { name: "sleep", args: { ms: 800 } } }, { text: "short done" }],
    },
    "fault-long": {
      model: "scripted",
      executor_overrides: ["drain"],
      tools: ["sleep"],
      script: [{ text: "long", tool: { name: "sleep", args: { ms: 6000 } } }, { text: "long done" }],
    },
  });
});

afterAll(async () => {
  // A frozen runner would hold fleet.stop() for its 10 s grace.
  for (const r of fleet?.services.runners ?? []) if (r.isRunning()) r.signal("SIGCONT");
  redis?.disconnect();
  await fleet?.stop();
});

const rounds = (events: ReceivedEvent[], type: string, attempt: number): number[] =>
  events.filter((e) => e.type === type && e.data.attempt === attempt).map((e) => Number(e.data.data.round));

describe("runner death", () => {
  it("re-dispatches the task of a runner killed with SIGKILL to another node, resuming after the last checkpoint", async () => {
    await ensureRunners(fleet, 2);
    const id = await submit(G, "fault-rounds", "crash");
    const stream = openStream(eventsUrl(G, id));
    await stream.waitFor((e) => e.type === "tool.call" && e.data.data.round === 3, 20_000);
    const victimLabel = await ownerNode(G, id);
    const victim = runnerByLabel(fleet, victimLabel);
    const firstRunId = stream.events.find((e) => isStatus(e, "running", 1))?.data.run_id;
    const t0 = Date.now();
    await victim.kill("SIGKILL");

    const events = await untilTerminal(G, id, stream, 45_000);
    const seen = describeEvents(events);
    const lostAt = events.find((e) => isStatus(e, "queued") && e.data.attempt >= 2);
    const resumedAt = events.find((e) => isStatus(e, "running") && e.data.attempt >= 2);
    expect(lostAt, `no 'status queued' attempt 2 after the kill; saw ${seen}`).toBeDefined();
    expect(lostAt!.data.attempt, seen).toBe(2);
    expect(lostAt!.data.data.error, seen).toMatchObject({ code: "runner_lost" });
    expect(resumedAt?.data.attempt, `no 'status running' attempt 2; saw ${seen}`).toBe(2);
    expect(
      terminalEvents(events).map((e) => statusOf(e)),
      `exactly one terminal status; saw ${seen}`,
    ).toEqual(["completed"]);
    expect(events.at(-1)!.data.attempt, seen).toBe(2);

    // Rounds 1..k were checkpointed before the crash; attempt 2 starts at k+1 and runs the rest once.
    const checkpointed = Math.max(0, ...rounds(events, "step.finish", 1));
    const attempt2 = rounds(events, "step.start", 2);
    expect(checkpointed, `rounds finished by attempt 1; saw ${seen}`).toBeGreaterThanOrEqual(2);
    expect(attempt2[0], `attempt 2 must start after the last checkpointed round ${checkpointed}; saw ${seen}`).toBe(checkpointed + 1);
    for (let round = 1; round <= 4; round++) {
      const ranIn = [1, 2].filter((a) => rounds(events, "step.start", a).includes(round)).length;
      const calls = events.filter((e) => e.type === "tool.call" && e.data.data.round === round).length;
      expect(calls, `tool.call of round ${round} once per attempt that ran it (${ranIn}); saw ${seen}`).toBe(ranIn);
      if (round <= checkpointed) expect(calls, `checkpointed round ${round} ran again; saw ${seen}`).toBe(1);
    }

    // Attempt 2 ran on the surviving node: the replay cache of the final run says where.
    const task = await getTask(G, id);
    expect(task).toMatchObject({ status: "completed", attempt: 2, result: { text: "done crash" } });
    const cache = await redis.hgetall(redisKeys.run(id));
    expect(cache.run_id, "replay cache belongs to the final run").toBe(task.run_id);
    expect(cache.node_id, "attempt 2 ran on another node").not.toBe(victimLabel);
    const lostLine = await fleet.services.kernel
      .waitForLog((l) => l.msg === "run lost: lease lapsed" && l.task_id === id, 2000)
      .catch((err: Error) => err.message);
    expect(lostLine, "kernel log 'run lost: lease lapsed'").toMatchObject({ task_id: id, run_id: firstRunId });

    report(
      `runner kill -9 mid-task (${victimLabel}, round 3 of 4) → declared lost after ${secs(lostAt!.receivedAt - t0)}, ` +
        `running on ${cache.node_id} after ${secs(resumedAt!.receivedAt - t0)}, completed once (attempt 2) after ${secs(events.at(-1)!.receivedAt - t0)}; ` +
        `rounds 1-${checkpointed} not re-run, attempt 2 ran rounds ${attempt2.join(",")}`,
    );
  });
});

describe("fencing", () => {
  it("lets a frozen runner's run go stale: after SIGCONT its reports are fenced and its events never reach the stream", async () => {
    await ensureRunners(fleet, 2);
    const id = await submit(G, "fault-rounds", "fence");
    const stream = openStream(eventsUrl(G, id));
    await stream.waitFor((e) => e.type === "tool.call" && e.data.data.round === 2, 20_000);
    const victimLabel = await ownerNode(G, id);
    const victim = runnerByLabel(fleet, victimLabel);
    const oldRunId = stream.events.find((e) => isStatus(e, "running", 1))!.data.run_id;
    const t0 = Date.now();
    victim.signal("SIGSTOP");
    let thawedAt = 0;
    let resumed: ReceivedEvent;
    try {
      resumed = await stream.waitFor((e) => (isStatus(e, "running") && e.data.attempt >= 2) || terminalEvents([e]).length > 0, 30_000);
    } finally {
      thawedAt = Date.now();
      victim.signal("SIGCONT");
    }
    const events = await untilTerminal(G, id, stream, 45_000);
    const seen = describeEvents(events);
    expect(isStatus(resumed, "running"), `the task must move to a new run while the old runner is frozen; saw ${seen}`).toBe(true);
    const newRunId = resumed.data.run_id;
    expect(newRunId).not.toBe(oldRunId);

    // The old runner, thawed, either abandons its run or has its reports fenced by the kernel.
    const evidence = (await firstLog([
      fleet.services.kernel.waitForLog((l) => l.msg === "fenced: report from a run that is not current" && l.task_id === id, 8000),
      victim.waitForLog((l) => l.task_id === id && (String(l.msg).startsWith("run abandoned") || l.msg === "abort requested"), 8000),
    ])) as { msg?: string } | null;
    expect(evidence, "kernel 'fenced: …' or old runner 'run abandoned' / 'abort requested' in the logs").not.toBeNull();

    expect(
      terminalEvents(events).map((e) => statusOf(e)),
      `exactly one terminal status; saw ${seen}`,
    ).toEqual(["completed"]);
    const terminal = events.at(-1)!;
    expect(terminal.data.run_id, "the completed status belongs to the new run").toBe(newRunId);
    const stale = events.filter((e) => e.id > resumed.id && e.data.run_id === oldRunId);
    expect(
      stale.map((e) => `${e.id}:${e.type}`),
      `events of the old run after the new attempt started; saw ${seen}`,
    ).toEqual([]);
    const task = await getTask(G, id);
    expect(task).toMatchObject({ status: "completed", attempt: 2, run_id: newRunId, result: { text: "done fence" } });
    // A client resuming from before the new attempt gets the same filtered tail.
    const from = events.filter((e) => e.id < resumed.id).at(-1)!.id;
    const resumedTail = await readStream(eventsUrl(G, id), { "last-event-id": String(from) });
    expect(
      resumedTail.map((e) => e.id),
      `resume after seq ${from}: ${describeEvents(resumedTail)}`,
    ).toEqual(events.filter((e) => e.id > from).map((e) => e.id));

    // What the old run really published after the new one started (the gateway must drop it).
    const nc = await connect({ servers: fleet.natsUrl });
    let published = 0;
    try {
      const consumer = await jetstream(nc).consumers.get("SY_EVENTS", { filter_subjects: `sy.events.*.*.${id}`, deliver_policy: DeliverPolicy.All });
      const batch = await consumer.fetch({ max_messages: 1000, expires: 2000 });
      for await (const m of batch) {
        const ev = m.json() as { run_id: string | null };
        if (m.seq > resumed.id && ev.run_id === oldRunId) published++;
        if (m.seq >= terminal.id) break;
      }
    } finally {
      await nc.close();
    }
    report(
      `runner SIGSTOP mid-task (${victimLabel}) → new run started after ${secs(resumed.receivedAt - t0)}, SIGCONT at ${secs(thawedAt - t0)}; ` +
        `old run wrote ${published} event(s) to JetStream afterwards, 0 reached the SSE stream; evidence: '${evidence?.msg}'; completed once (attempt 2)`,
    );
  });
});

describe("graceful drain", () => {
  it("on SIGTERM finishes the short run, hands the long one back at once, and leaves GET /v1/runners", async () => {
    // A node serving only the kind `drain` gets both tasks; a second one starts while it drains.
    const drained = await fleet.addRunner({ RUNNER_KINDS: "drain", RUNNER_SERVE_LOCAL: "false", DRAIN_TIMEOUT_MS: "2000" });
    const longId = await submit(G, "fault-long", "long", { executor: DRAIN_EXECUTOR });
    const longStream = openStream(eventsUrl(G, longId));
    await longStream.waitFor((e) => e.type === "tool.call", 15_000);
    const shortId = await submit(G, "fault-short", "short", { executor: DRAIN_EXECUTOR });
    const shortStream = openStream(eventsUrl(G, shortId));
    await shortStream.waitFor((e) => e.type === "tool.call", 15_000);

    const t0 = Date.now();
    const exitCode = drained.stop();
    const successor = await fleet.addRunner({ RUNNER_KINDS: "drain", RUNNER_SERVE_LOCAL: "false" });
    const [shortEvents, longEvents] = await Promise.all([untilTerminal(G, shortId, shortStream, 30_000), untilTerminal(G, longId, longStream, 45_000)]);
    expect(await exitCode, "the drained node exits cleanly").toBe(0);

    const shortSeen = describeEvents(shortEvents);
    expect(statusTrail(shortEvents), `short task finishes on attempt 1 during the drain; saw ${shortSeen}`).toEqual(["queued#1", "running#1", "completed#1"]);

    const longSeen = describeEvents(longEvents);
    const handedBack = longEvents.find((e) => isStatus(e, "queued", 2));
    expect(handedBack, `long task handed back as attempt 2; saw ${longSeen}`).toBeDefined();
    expect(handedBack!.data.data.error, longSeen).toMatchObject({ code: "runner_released" });
    expect(statusTrail(longEvents), longSeen).toEqual(["queued#1", "running#1", "queued#2", "running#2", "completed#2"]);
    const cache = await redis.hgetall(redisKeys.run(longId));
    expect(cache.node_id, "attempt 2 ran on the other node").toBe(successor.label);
    expect(await drained.waitForLog((l) => l.msg === "run handed back (drain)" && l.task_id === longId, 1000)).toBeTruthy();

    const runners = (await http("GET", `${G}/v1/runners`)).body.items as { id: string }[];
    expect(
      runners.map((n) => n.id),
      "the drained node left GET /v1/runners",
    ).not.toContain(drained.label);
    const shortDone = shortEvents.at(-1)!.receivedAt - t0;
    report(
      `runner SIGTERM holding a short and a long run (DRAIN_TIMEOUT_MS=2000) → short completed on attempt 1 after ${secs(shortDone)}; ` +
        `long handed back (runner_released) after ${secs(handedBack!.receivedAt - t0)}, running on ${successor.label} after ` +
        `${secs(longEvents.find((e) => isStatus(e, "running", 2))!.receivedAt - t0)}; node gone from /v1/runners; exit 0`,
    );
    await eventually(async () => !drained.isRunning(), 1000, "drained node exited");
  });
});
