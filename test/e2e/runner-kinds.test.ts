// Remote executors and runner kinds over real processes: a task for a kind no node serves
// waits; a second node serving a custom kind (examples/runner-kinds/uppercase.ts, loaded with
// RUNNER_PLUGINS) claims it; the kind's config schema is enforced at submit and at agent PUT;
// GET /v1/runner-kinds and /v1/runners show kinds, nodes, slots and queue depth; cancel and a
// crashed node are handled. This is also the worked example of docs/how-to-add-a-runner-kind.md.
import { type Fleet, type ServiceProcess, startFleet } from "@switchyard/devkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, http } from "../src/http.ts";
import { openStream, readStream } from "../src/sse.ts";
import {
  describeEvents,
  eventsUrl,
  FAST_KERNEL_ENV,
  FAST_RUNNER_ENV,
  getTask,
  isStatus,
  putAgents,
  statusTrail,
  submit,
  untilTerminal,
  waitForTask,
} from "../src/support.ts";

let fleet: Fleet;
let G: string;

/** How a newcomer starts a node for the custom kind (the how-to's command, as environment). */
const UPPERCASE_NODE = { RUNNER_KINDS: "uppercase", RUNNER_SERVE_LOCAL: "false", RUNNER_PLUGINS: "examples/runner-kinds/uppercase.ts" };
/** Eight chunks of text.delta: a run that lasts a few seconds with chunk_delay_ms. */
const LONG = "crash me in the middle of a long answer, then run me again on another node";
const upper = (config: Record<string, unknown> = {}) => ({ executor: { type: "remote", runner: { kind: "uppercase", config } } });

beforeAll(async () => {
  fleet = await startFleet({ runnerNodes: 1, env: { LOG_LEVEL: "info", ...FAST_KERNEL_ENV }, runnerEnv: FAST_RUNNER_ENV });
  G = fleet.gatewayUrl;
  await putAgents(G, { "kinds-any": { model: "scripted", script: [{ text: "local loop ran" }], executor_overrides: ["uppercase"] } });
});

afterAll(async () => {
  await fleet?.stop();
});

const kindsNow = async () => (await http("GET", `${G}/v1/runner-kinds`)).body.items as any[];

describe("a custom runner kind on a second node", () => {
  let upperNode: ServiceProcess;

  it("keeps a task for a kind no node serves queued and says so, in the task and in GET /v1/runner-kinds", async () => {
    const id = await submit(G, "kinds-any", "waiting for a node", upper());
    const task = await waitForTask(G, id, (t) => t.status === "queued" && t.queue, 5000, "queued with queue info");
    expect(task.queue).toEqual({ runner_nodes: 0, message: "no runner node serves kind 'uppercase'" });
    expect(task.executor).toEqual({ type: "remote", runner: { kind: "uppercase", config: {} } });
    const kinds = await eventually(
      async () => {
        const items = await kindsNow();
        return items.find((k) => k.kind === "uppercase" && k.queue_depth === 1) ? items : null;
      },
      5000,
      "uppercase with queue depth 1",
    );
    expect(kinds.find((k) => k.kind === "uppercase")).toMatchObject({ kind: "uppercase", nodes: 0, free_slots: 0, queue_depth: 1, registered: false });
    expect(kinds.find((k) => k.kind === "local")).toMatchObject({ nodes: 1, registered: true });

    // A newcomer starts a node serving the custom kind: it claims the waiting task.
    upperNode = await fleet.addRunner(UPPERCASE_NODE);
    const events = await readStream(eventsUrl(G, id));
    const seen = describeEvents(events);
    expect(statusTrail(events), seen).toEqual(["queued#1", "running#1", "completed#1"]);
    const deltas = events.filter((e) => e.type === "text.delta").map((e) => e.data.data.delta);
    expect(deltas.length, seen).toBeGreaterThan(1);
    expect(deltas.join("")).toBe("WAITING FOR A NODE");
    expect(events.find((e) => e.type === "message")?.data.data).toMatchObject({ role: "assistant", content: "WAITING FOR A NODE" });
    const done = await getTask(G, id);
    expect(done).toMatchObject({ status: "completed", result: { text: "WAITING FOR A NODE" }, runner_state: { phase: "done", chars: 18 } });
  });

  it("lists the node's kinds and free slots, and each kind's nodes and queue depth", async () => {
    const nodes = (await http("GET", `${G}/v1/runners`)).body.items as any[];
    expect(nodes.find((n) => n.id === upperNode.label)).toMatchObject({ kinds: ["uppercase"], slots: { total: 16, free: 16 } });
    expect(nodes.find((n) => n.id === "runner-1")).toMatchObject({ kinds: ["local"] });
    const kinds = await kindsNow();
    expect(kinds.map((k) => k.kind)).toEqual(["local", "uppercase"]);
    const up = kinds.find((k) => k.kind === "uppercase");
    expect(up).toMatchObject({ nodes: 1, free_slots: 16, queue_depth: 0, registered: true });
    expect(up.config_schema.properties.repeat).toMatchObject({ type: "integer", minimum: 1, maximum: 10 });
  });

  it("refuses a config the kind's schema rejects with a 400 naming the field, at submit and in an agent's default", async () => {
    const bad = await http("POST", `${G}/v1/tasks`, { agent: "kinds-any", input: "x", ...upper({ repeat: 99 }) });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("bad_request");
    expect(bad.body.error.details).toEqual([{ path: "executor.runner.config.repeat", message: expect.stringMatching(/10/) }]);
    const unknown = await http("POST", `${G}/v1/tasks`, { agent: "kinds-any", input: "x", ...upper({ shout: true }) });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.details).toEqual([{ path: "executor.runner.config.shout", message: "unknown field" }]);

    const agent = await http("PUT", `${G}/v1/agents/kinds-bad-default`, { model: "scripted", script: [{ text: "x" }], ...upper({ repeat: "twice" }) });
    expect(agent.status).toBe(400);
    expect(agent.body.error.details).toEqual([{ path: "executor.runner.config.repeat", message: expect.any(String) }]);

    // An agent whose default executor is the kind: its tasks go there without naming it.
    await putAgents(G, { "kinds-shouter": { model: "scripted", script: [{ text: "x" }], ...upper({ repeat: 2 }) } });
    const events = await readStream(eventsUrl(G, await submit(G, "kinds-shouter", "hey")));
    expect(events.at(-1)?.data.data).toMatchObject({ status: "completed", result: { text: "HEY HEY" } });
  });

  it("propagates a cancel to the node running the custom kind", async () => {
    const id = await submit(G, "kinds-any", "a long slow input to stream ".repeat(4), upper({ chunk_delay_ms: 300 }));
    const stream = openStream(eventsUrl(G, id));
    await stream.waitFor((e) => e.type === "text.delta", 15_000);
    const res = await http("POST", `${G}/v1/tasks/${id}/cancel`, { reason: "enough" });
    expect(res.status).toBe(202);
    const events = await untilTerminal(G, id, stream, 15_000);
    expect(statusTrail(events), describeEvents(events)).toEqual(["queued#1", "running#1", "canceled#1"]);
    await upperNode.waitForLog((l) => l.msg === "run aborted" && l.task_id === id, 5000);
    expect((await getTask(G, id)).error).toMatchObject({ code: "canceled", message: "enough" });
  });

  it("re-runs the task of a node killed mid-run on another node of the kind", async () => {
    const id = await submit(G, "kinds-any", LONG, upper({ chunk_delay_ms: 400 }));
    const stream = openStream(eventsUrl(G, id));
    await stream.waitFor((e) => e.type === "text.delta", 15_000);
    await upperNode.kill("SIGKILL");
    const successor = await fleet.addRunner(UPPERCASE_NODE);
    const events = await untilTerminal(G, id, stream, 45_000);
    const seen = describeEvents(events);
    const lost = events.find((e) => isStatus(e, "queued", 2));
    expect(lost?.data.data.error, seen).toMatchObject({ code: "runner_lost" });
    expect(statusTrail(events), seen).toEqual(["queued#1", "running#1", "queued#2", "running#2", "completed#2"]);
    const task = await getTask(G, id);
    expect(task).toMatchObject({ status: "completed", attempt: 2, result: { text: LONG.toUpperCase() } });
    expect(successor.isRunning(), "the successor is the only node left serving the kind").toBe(true);
  });
});
