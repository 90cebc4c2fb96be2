// What a client writes never runs code on a runner node unless its operator allowed it: the
// remote-code-execution probe of issue 11 (a task that switches its agent to the `process` kind
// and sets NODE_OPTIONS=--import=data:…) over HTTP against a real fleet, and the same probe
// published straight onto NATS past the gateway, where the spawner and the runner node refuse it.
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { type SubmitTask, subjects } from "@switchyard/contracts";
import { type Fleet, startFleet } from "@switchyard/devkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { http } from "../src/http.ts";
import { FAST_KERNEL_ENV, FAST_RUNNER_ENV, putAgents, submit, waitForTask } from "../src/support.ts";

let fleet: Fleet;
let G: string;
let nc: NatsConnection;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sy-untrusted-"));
/** The probe's proof of execution: the injected module writes this file. */
const pwned = path.join(dir, "pwned");
const injected = `import fs from "node:fs"; fs.writeFileSync(${JSON.stringify(pwned)}, "code ran as " + process.pid);`;
const NODE_OPTIONS = `--import=data:text/javascript,${encodeURIComponent(injected)}`;
const processExecutor = (env: Record<string, string>) => ({ type: "remote", runner: { kind: "process", config: { program: "echo-agent.mjs", env } } });

/** A UUIDv7 (what the gateway would mint) for a submit published past the gateway. */
function uuidv7(): string {
  const t = Date.now().toString(16).padStart(12, "0");
  const r = randomUUID().replace(/-/g, "");
  return `${t.slice(0, 8)}-${t.slice(8, 12)}-7${r.slice(13, 16)}-${"89ab"[Number.parseInt(r[16] as string, 16) & 3]}${r.slice(17, 20)}-${r.slice(20, 32)}`;
}

async function publishSubmit(agent: string, executor: unknown): Promise<string> {
  const cmd = {
    v: 1 as const,
    task_id: uuidv7(),
    tenant: "default",
    agent,
    input: "probe",
    executor,
    metadata: {},
    idempotency_key: null,
    submitted_at: new Date().toISOString(),
  };
  nc.publish(subjects.submit, JSON.stringify(cmd satisfies Omit<SubmitTask, "executor"> & { executor: unknown }));
  await nc.flush();
  return cmd.task_id;
}

beforeAll(async () => {
  fleet = await startFleet({ runnerNodes: 1, env: { LOG_LEVEL: "info", ...FAST_KERNEL_ENV }, runnerEnv: FAST_RUNNER_ENV });
  G = fleet.gatewayUrl;
  // A node serving `process` whose operator allows the variables MY_* and nothing else.
  await fleet.addRunner({ RUNNER_KINDS: "process", RUNNER_SERVE_LOCAL: "false", RUNNER_WORKSPACE_ROOT: dir, PROCESS_ENV_ALLOW: "MY_*" });
  nc = await connect({ servers: fleet.natsUrl, name: "untrusted-config-test" });
  await putAgents(G, {
    // A plain model agent: its tasks may not pick another executor.
    "rce-victim": { model: "scripted", script: [{ text: "hello" }] },
    // An agent whose author lets tasks run it as a process agent.
    "rce-proc": { model: "scripted", script: [{ text: "unused" }], executor_overrides: ["process"] },
  });
});

afterAll(async () => {
  await nc?.close();
  await fleet?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("a client cannot run code on a runner node", () => {
  it("refuses a task that switches a plain agent to the process kind (403 naming executor), and nothing runs", async () => {
    const res = await http("POST", `${G}/v1/tasks`, { agent: "rce-victim", input: "x", executor: processExecutor({ NODE_OPTIONS }) });
    console.log(`[probe] executor override to 'process' on an agent without executor_overrides → ${res.status} ${res.body.error?.code}`);
    expect(res.status, JSON.stringify(res.body)).toBe(403);
    expect(res.body.error).toMatchObject({
      code: "executor_not_allowed",
      details: [{ path: "executor", message: expect.stringContaining("executor_overrides") }],
    });
    // The agent's own executor, given explicitly, is not an override.
    expect((await http("POST", `${G}/v1/tasks`, { agent: "rce-victim", input: "x", executor: { type: "local" } })).status).toBe(202);
    expect(fs.existsSync(pwned), "the injected module never ran").toBe(false);
  });

  it("refuses NODE_OPTIONS and other denied or unlisted variables with a 400 naming the variable", async () => {
    for (const [name, value] of [
      ["NODE_OPTIONS", NODE_OPTIONS],
      ["LD_PRELOAD", "/tmp/evil.so"],
      ["PATH", "/tmp"],
      ["OTHER_FLAG", "1"],
    ] as const) {
      const res = await http("POST", `${G}/v1/tasks`, { agent: "rce-proc", input: "x", executor: processExecutor({ [name]: value }) });
      console.log(`[probe] process task with env ${name} → ${res.status} ${res.body.error?.code}`);
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.error.details).toEqual([{ path: `executor.runner.config.env.${name}`, message: expect.any(String) }]);
    }
    // An agent definition cannot smuggle it in as its default executor either.
    const put = await http("PUT", `${G}/v1/agents/rce-default`, { model: "scripted", script: [{ text: "x" }], executor: processExecutor({ NODE_OPTIONS }) });
    expect(put.status, JSON.stringify(put.body)).toBe(400);
    expect(put.body.error.details).toEqual([{ path: "executor.runner.config.env.NODE_OPTIONS", message: expect.any(String) }]);
    expect(fs.existsSync(pwned)).toBe(false);
  });

  it("runs a process task with an allowed variable", async () => {
    const id = await submit(G, "rce-proc", "allowed", { executor: processExecutor({ MY_FLAG: "1" }) });
    const task = await waitForTask(G, id, (t) => t.status === "completed" || t.status === "failed", 30_000, "the task to end");
    expect(task.status, JSON.stringify(task.error)).toBe("completed");
  });

  it("past the gateway (a submit published on NATS), the spawner refuses the override and the runner node refuses the variable", async () => {
    const overridden = await publishSubmit("rce-victim", processExecutor({ NODE_OPTIONS }));
    const t1 = await waitForTask(G, overridden, (t) => t.status === "failed", 30_000, "the override refused");
    expect(t1.error).toMatchObject({ code: "executor_not_allowed", retryable: false });

    const injectedEnv = await publishSubmit("rce-proc", processExecutor({ NODE_OPTIONS }));
    const t2 = await waitForTask(G, injectedEnv, (t) => t.status === "failed", 30_000, "the variable refused on the node");
    console.log(`[probe] NODE_OPTIONS published past the gateway → ${t2.status} ${t2.error.code}: ${t2.error.message}`);
    expect(t2.error).toMatchObject({ code: "invalid_config", retryable: false, message: expect.stringContaining("NODE_OPTIONS") });
    expect(t2.attempt, "not retried").toBe(1);
    expect(fs.existsSync(pwned), "the injected module never ran").toBe(false);
  });
});
