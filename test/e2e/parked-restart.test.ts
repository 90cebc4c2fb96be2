// A parked task survives a restart of every service, NATS and Redis included (issue 6): the
// task record, its checkpoint and the waiting calls are in JetStream KV (file storage); Redis
// comes back empty by design. Answered after the restart, the task resumes and completes; an
// approval whose timeout passed while everything was down is timed out by the new kernel.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type Fleet, freePort, startFleet } from "@switchyard/devkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, http } from "../src/http.ts";
import { openStream, readStream } from "../src/sse.ts";
import { statusTrail, submit as submitTask } from "../src/support.ts";

let fleet: Fleet | undefined;
let G: string;
let dataDir: string;
let port: number;
const ENV = { LOG_LEVEL: "info", REAPER_INTERVAL_MS: "200" };

const AGENTS: Record<string, unknown> = {
  "pr-pay": {
    model: "scripted",
    tools: ["payments.charge"],
    approval: { policy: "pattern", tools: ["payments.*"] },
    script: [{ text: "Charging.", tool: { name: "payments.charge", args: { amount: 42 } } }, { text: "Paid: {{input}}" }],
  },
  "pr-weather": {
    model: "scripted",
    tools: [{ name: "get_weather", external: true, returns: { type: "object", required: ["temp_c"] } }],
    script: [{ text: "Checking.", tool: { name: "get_weather", args: { city: "{{input}}" } } }, { text: "Weather for {{input}}" }],
  },
  // Times out while the fleet is down: the new kernel must notice from the stored deadline.
  "pr-timeout": {
    model: "scripted",
    tools: ["echo"],
    approval: { policy: "always", timeout_ms: 4000, on_timeout: "reject" },
    script: [{ text: "Asking.", tool: { name: "echo", args: { q: "x" } } }, { text: "Went on without it" }],
  },
};

const submit = (agent: string, input: string) => submitTask(G, agent, input);

async function startAll(): Promise<void> {
  fleet = await startFleet({ runnerNodes: 1, dataDir, port, env: ENV });
  G = fleet.gatewayUrl;
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sy-parked-"));
  port = await freePort();
  await startAll();
  for (const [name, def] of Object.entries(AGENTS)) {
    const res = await http("PUT", `${G}/v1/agents/${name}`, def);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  }
});

afterAll(async () => {
  await fleet?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe("a parked task across a restart of everything", () => {
  it("keeps waiting through a restart of every service, NATS and Redis, and resumes when answered", async () => {
    const ids = { pay: await submit("pr-pay", "order 1"), weather: await submit("pr-weather", "Oslo"), timeout: await submit("pr-timeout", "t") };
    for (const id of Object.values(ids)) {
      const s = openStream(`${G}/v1/tasks/${id}/events`);
      await s.waitFor((e) => e.type === "status" && e.data.data.status === "input_required", 20_000);
      s.close();
      await s.done;
    }
    const before = (await http("GET", `${G}/v1/tasks/${ids.pay}`)).body;
    expect(before.status).toBe("input_required");

    // Everything goes down: gateway, runner, kernel, spawner, then Redis and NATS.
    const t0 = Date.now();
    await fleet!.stop();
    fleet = undefined;
    await startAll();
    console.log(`[parked] whole fleet restarted (same NATS store, Redis empty) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    const after = (await http("GET", `${G}/v1/tasks/${ids.pay}`)).body;
    expect(after).toMatchObject({ status: "input_required", attempt: 1, pending: { round: 1 } });
    expect(after.pending.calls).toEqual([expect.objectContaining({ call_id: "call_1_1", kind: "approval", answer: null })]);

    const approved = await http("POST", `${G}/v1/tasks/${ids.pay}/approvals`, { call_id: "call_1_1", decision: "approve" });
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    const answered = await http("POST", `${G}/v1/tasks/${ids.weather}/tool-results`, { call_id: "call_1_1", result: { temp_c: 3 } });
    expect(answered.status, JSON.stringify(answered.body)).toBe(200);

    const pay = await readStream(`${G}/v1/tasks/${ids.pay}/events`);
    expect(statusTrail(pay)).toEqual(["queued#1", "running#1", "input_required#1", "queued#2", "running#2", "completed#2"]);
    expect(pay.filter((e) => e.type === "approval.requested")).toHaveLength(1);
    expect(pay.find((e) => e.type === "tool.result")!.data.data.result).toMatchObject({ status: "charged", amount: 42 });
    expect(pay.at(-1)!.data.data.result).toEqual({ text: "Paid: order 1" });

    const weather = await readStream(`${G}/v1/tasks/${ids.weather}/events`);
    expect(statusTrail(weather)).toEqual(["queued#1", "running#1", "input_required#1", "queued#2", "running#2", "completed#2"]);
    expect(weather.find((e) => e.type === "tool.result")!.data.data.result).toEqual({ temp_c: 3 });

    // Its 4 s approval timeout came due during or after the restart: the new kernel rejected it.
    const timedOut = await eventually(
      async () => {
        const t = (await http("GET", `${G}/v1/tasks/${ids.timeout}`)).body;
        return t.status === "completed" ? t : null;
      },
      30_000,
      "the timed-out approval to be rejected and the task to complete",
    );
    expect(timedOut.result).toEqual({ text: "Went on without it" });
    const tEvents = await readStream(`${G}/v1/tasks/${ids.timeout}/events`);
    expect(tEvents.find((e) => e.type === "approval.decided")!.data.data).toMatchObject({ decision: "reject", by: "timeout" });
  });
});
