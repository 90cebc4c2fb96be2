// Agent kind `operator` over real processes: an outside party answers an agent's turns, over
// NATS or over the gateway's WebSocket. An agent naming an unknown operator is refused; turns
// are relayed as events over SSE; a cancel stops the wait; a runner crash re-asks the turn in
// the next attempt; an operator that disconnects mid-turn gets the turn again when it comes
// back within OPERATOR_GRACE_MS, and otherwise the attempt fails with operator_unavailable.
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { type Fleet, freePort, startFleet, startService } from "@switchyard/devkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, http } from "../src/http.ts";
import { openStream, readStream } from "../src/sse.ts";
import { describeEvents, eventsUrl, FAST_KERNEL_ENV, FAST_RUNNER_ENV, getTask, isStatus, statusTrail, submit, untilTerminal } from "../src/support.ts";

let fleet: Fleet;
let G: string;
let nc: NatsConnection;
const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const dec = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b));

type Turn = { turn_id: string; attempt: number; round: number; messages: { role: string; content: string }[]; tools: string[] };
type Answer = (turn: Turn) => Record<string, unknown> | null;

/** Two rounds: an echo tool call, then a final answer quoting what the tool returned. */
const twoRounds: Answer = (turn) =>
  turn.round === 1
    ? { text: "Let me check.", tool_calls: [{ name: "echo", args: { q: "ping" } }] }
    : { text: `Operator says: ${turn.messages.filter((m) => m.role === "tool").length} tool result(s) seen` };

/** An operator over NATS: registers (and renews) through the spawner, answers turns. */
async function natsOperator(id: string, answer: Answer) {
  const turns: Turn[] = [];
  const register = () => nc.request("sy.spawner.operators.register", enc({ v: 1, id, description: "test operator" }), { timeout: 5000 });
  await register();
  const renew = setInterval(() => void register().catch(() => undefined), 2000);
  const sub = nc.subscribe(`sy.operator.${id}.turn`, {
    queue: `operator-${id}`,
    callback: (_e, msg) => {
      const turn = dec(msg.data) as Turn;
      turns.push(turn);
      const reply = answer(turn);
      if (reply) msg.respond(enc({ v: 1, turn_id: turn.turn_id, ...reply }));
    },
  });
  return {
    turns,
    stop: async () => {
      clearInterval(renew);
      sub.unsubscribe();
      await nc.request("sy.spawner.operators.unregister", enc({ v: 1, id }), { timeout: 5000 });
    },
  };
}

/** An operator over the gateway's WebSocket. */
async function wsOperator(id: string, answer: Answer, gateway = G, query = "") {
  const turns: Turn[] = [];
  const ws = new WebSocket(`${gateway.replace("http", "ws")}/v1/operators/${id}/connect${query}`);
  const registered = new Promise<void>((resolve, reject) => {
    ws.addEventListener("error", () => reject(new Error("websocket error")));
    ws.addEventListener("message", (ev) => {
      const msg = JSON.parse(String(ev.data));
      if (msg.type === "registered") resolve();
      if (msg.type === "turn") {
        turns.push(msg);
        const reply = answer(msg);
        if (reply) ws.send(JSON.stringify({ type: "reply", turn_id: msg.turn_id, ...reply }));
      }
    });
  });
  await registered;
  const closed = new Promise<void>((r) => ws.addEventListener("close", () => r()));
  return {
    turns,
    close: async () => {
      ws.close();
      await closed;
    },
  };
}

const operatorAgent = (ref: string, extra: Record<string, unknown> = {}) => ({
  kind: "operator",
  operator_ref: ref,
  tools: ["echo"],
  instructions: "Help.",
  ...extra,
});

beforeAll(async () => {
  fleet = await startFleet({ runnerNodes: 1, env: { LOG_LEVEL: "info", ...FAST_KERNEL_ENV }, runnerEnv: { ...FAST_RUNNER_ENV, OPERATOR_GRACE_MS: "1500" } });
  G = fleet.gatewayUrl;
  nc = await connect({ servers: fleet.natsUrl });
});

afterAll(async () => {
  await nc?.close();
  await fleet?.stop();
});

describe("operator agents", () => {
  it("refuses an operator agent whose operator is not registered, naming operator_ref", async () => {
    const res = await http("PUT", `${G}/v1/agents/op-nobody`, operatorAgent("nobody"));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_agent");
    expect(res.body.error.message).toContain("no operator 'nobody' is registered");
    expect(res.body.error.details).toEqual([{ path: "operator_ref", message: "no operator 'nobody' is registered" }]);
    const noRef = await http("PUT", `${G}/v1/agents/op-noref`, { kind: "operator" });
    expect(noRef.status).toBe(400);
    expect(noRef.body.error.details).toEqual([{ path: "operator_ref", message: expect.any(String) }]);
  });

  it("runs an agent whose turns an operator on NATS answers, tool calls included", async () => {
    const bob = await natsOperator("bob", twoRounds);
    expect((await http("PUT", `${G}/v1/agents/op-bob`, operatorAgent("bob"))).status).toBe(200);
    const events = await readStream(eventsUrl(G, await submit(G, "op-bob", "hi bob")));
    const seen = describeEvents(events);
    expect(statusTrail(events), seen).toEqual(["queued#1", "running#1", "completed#1"]);
    expect(events.find((e) => e.type === "tool.result")?.data.data, seen).toMatchObject({ tool: "echo", result: { q: "ping" } });
    expect(events.at(-1)?.data.data.result).toEqual({ text: "Operator says: 1 tool result(s) seen" });
    expect(bob.turns.map((t) => t.round)).toEqual([1, 2]);
    expect(bob.turns[0]?.messages).toEqual([
      { role: "system", content: "Help." },
      { role: "user", content: "hi bob" },
    ]);
    await bob.stop();
  });

  it("runs an agent whose operator is connected over the gateway's WebSocket, and lists it", async () => {
    const carol = await wsOperator("carol", twoRounds);
    const listed = (await http("GET", `${G}/v1/operators`)).body.items as any[];
    expect(listed.find((o) => o.id === "carol")).toMatchObject({ via: "websocket" });
    expect((await http("PUT", `${G}/v1/agents/op-carol`, operatorAgent("carol"))).status).toBe(200);
    const events = await readStream(eventsUrl(G, await submit(G, "op-carol", "hi carol")));
    expect(events.at(-1)?.data.data, describeEvents(events)).toMatchObject({ status: "completed", result: { text: "Operator says: 1 tool result(s) seen" } });
    await carol.close();
    await eventually(async () => !((await http("GET", `${G}/v1/operators`)).body.items as any[]).some((o) => o.id === "carol"), 5000, "carol unregistered");
  });

  it("stops waiting for the operator when the task is canceled", async () => {
    const dave = await wsOperator("dave", () => null);
    expect((await http("PUT", `${G}/v1/agents/op-dave`, operatorAgent("dave"))).status).toBe(200);
    const id = await submit(G, "op-dave", "never answered");
    const stream = openStream(eventsUrl(G, id));
    await eventually(async () => dave.turns.length === 1, 10_000, "dave got the turn");
    expect((await http("POST", `${G}/v1/tasks/${id}/cancel`)).status).toBe(202);
    const events = await untilTerminal(G, id, stream, 15_000);
    expect(statusTrail(events), describeEvents(events)).toEqual(["queued#1", "running#1", "canceled#1"]);
    await fleet.services.runners[0]!.waitForLog((l) => l.msg === "run aborted" && l.task_id === id, 5000);
    await dave.close();
  });

  it("asks the operator again in the next attempt after the runner crashed mid-turn", async () => {
    const erin = await natsOperator("erin", (turn) => (turn.attempt === 1 ? null : { text: `answered on attempt ${turn.attempt}` }));
    expect((await http("PUT", `${G}/v1/agents/op-erin`, operatorAgent("erin"))).status).toBe(200);
    const id = await submit(G, "op-erin", "crash while waiting");
    const stream = openStream(eventsUrl(G, id));
    await eventually(async () => erin.turns.length === 1, 10_000, "erin got the turn");
    const victim = fleet.services.runners.find((r) => r.isRunning())!;
    await victim.kill("SIGKILL");
    await fleet.addRunner();
    const events = await untilTerminal(G, id, stream, 45_000);
    const seen = describeEvents(events);
    expect(events.find((e) => isStatus(e, "queued", 2))?.data.data.error, seen).toMatchObject({ code: "runner_lost" });
    expect(events.at(-1)?.data.data, seen).toMatchObject({ status: "completed", attempt: 2, result: { text: "answered on attempt 2" } });
    expect(erin.turns.map((t) => `${t.attempt}:${t.round}`)).toEqual(["1:1", "2:1"]);
    await erin.stop();
  });

  it("re-sends the turn to an operator that disconnects mid-turn and comes back within the grace period", async () => {
    const first = await wsOperator("frank", () => null);
    expect((await http("PUT", `${G}/v1/agents/op-frank`, operatorAgent("frank"))).status).toBe(200);
    const id = await submit(G, "op-frank", "hold on");
    await eventually(async () => first.turns.length === 1, 10_000, "frank got the turn");
    await first.close();
    const second = await wsOperator("frank", (turn) => ({ text: `back for ${turn.turn_id}` }));
    const events = await readStream(eventsUrl(G, id));
    expect(statusTrail(events), `${describeEvents(events)} ${JSON.stringify(events.find((e) => e.type === "error")?.data.data)}`).toEqual([
      "queued#1",
      "running#1",
      "completed#1",
    ]);
    expect(second.turns.map((t) => t.turn_id)).toEqual([first.turns[0]!.turn_id]);
    expect(events.at(-1)?.data.data.result).toEqual({ text: `back for ${first.turns[0]!.turn_id}` });
    await second.close();
  });

  it("fails the attempt with operator_unavailable when the operator does not come back", async () => {
    const gina = await wsOperator("gina", () => null);
    expect((await http("PUT", `${G}/v1/agents/op-gina`, operatorAgent("gina", { retry: { max_attempts: 1 } }))).status).toBe(200);
    const id = await submit(G, "op-gina", "left alone");
    await eventually(async () => gina.turns.length === 1, 10_000, "gina got the turn");
    await gina.close();
    const events = await readStream(eventsUrl(G, id));
    expect(events.at(-1)?.data.data, describeEvents(events)).toMatchObject({ status: "failed", error: { code: "operator_unavailable", retryable: true } });
    expect((await getTask(G, id)).error.message).toContain("operator 'gina' is not connected");
  });

  it("asks a WebSocket operator for the bearer token when API_KEYS is set, and takes it as ?access_token=", async () => {
    const port = await freePort();
    const secured = await startService("gateway", {
      env: { NATS_URL: fleet.natsUrl, REDIS_URL: fleet.redisUrl, PORT: String(port), API_KEYS: "op-token:default" },
      label: "gateway-auth",
    });
    try {
      const url = `http://127.0.0.1:${port}`;
      const refused = await new Promise<{ code: number; message: string }>((resolve) => {
        const ws = new WebSocket(`${url.replace("http", "ws")}/v1/operators/ivan/connect`);
        let message = "";
        ws.addEventListener("message", (ev) => (message = JSON.parse(String(ev.data)).message));
        ws.addEventListener("close", (ev) => resolve({ code: ev.code, message }));
      });
      // Refused with 401 before the upgrade: the socket never opens (1006, no message).
      expect(refused).toEqual({ code: 1006, message: "" });
      const ivan = await wsOperator("ivan", () => null, url, "?access_token=op-token");
      const listed = (await http("GET", `${url}/v1/operators`, undefined, { authorization: "Bearer op-token" })).body.items as any[];
      expect(listed.map((o) => o.id)).toContain("ivan");
      await ivan.close();
    } finally {
      await secured.stop();
    }
  });
});
