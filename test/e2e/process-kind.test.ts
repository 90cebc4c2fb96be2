// The `process` runner kind over real processes: an agent program (examples/process-agents/
// echo-agent.mjs) run as a subprocess speaking JSON lines; its events relayed over SSE, its
// lifecycle visible as the task's runner_state, and no agent process surviving a cancel, a
// runner's SIGTERM or a runner's SIGKILL.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
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
const workspaceRoot = fs.mkdtempSync(path.join(os.tmpdir(), "sy-process-kind-"));
const PROCESS_NODE = { RUNNER_KINDS: "process", RUNNER_SERVE_LOCAL: "false", RUNNER_WORKSPACE_ROOT: workspaceRoot, PROCESS_STOP_GRACE_MS: "500" };
const proc = (args: string[] = []) => ({ executor: { type: "remote", runner: { kind: "process", config: { program: "echo-agent.mjs", args } } } });
const SLOW = ["--delay-ms=250", "--chunks=40"];

/** Whether `pid` runs. A zombie does not: this machine's PID 1 may never reap orphans. */
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat[stat.lastIndexOf(")") + 2] !== "Z";
  } catch {
    return false;
  }
};
const gone = (pid: number, what: string) => eventually(async () => !alive(pid), 10_000, `${what}: pid ${pid} gone`);

/** The agent's pid once the task's runner_state says it runs. */
async function agentPid(id: string): Promise<number> {
  const t = await waitForTask(G, id, (t) => t.runner_state?.status === "running" && typeof t.runner_state.pid === "number", 15_000, "agent running");
  return t.runner_state.pid as number;
}

let nodeA: ServiceProcess;

beforeAll(async () => {
  fleet = await startFleet({ runnerNodes: 1, env: { LOG_LEVEL: "info", ...FAST_KERNEL_ENV }, runnerEnv: { ...FAST_RUNNER_ENV, DRAIN_TIMEOUT_MS: "500" } });
  G = fleet.gatewayUrl;
  nodeA = await fleet.addRunner(PROCESS_NODE);
  await putAgents(G, {
    "proc-echo": {
      model: "scripted",
      executor_overrides: ["process"],
      tools: ["echo"],
      script: [{ text: "unused by the process kind" }],
      retry: { max_attempts: 3, initial_backoff_ms: 100, max_backoff_ms: 200 },
    },
    // The same agent, but every tool call needs a person's approval.
    "proc-guarded": {
      model: "scripted",
      executor_overrides: ["process"],
      tools: ["echo"],
      script: [{ text: "unused by the process kind" }],
      approval: { policy: "always" },
    },
  });
});

afterAll(async () => {
  await fleet?.stop();
  fs.rmSync(workspaceRoot, { recursive: true, force: true });
});

describe("process runner kind", () => {
  it("runs the agent program, relays its lines as events, and reports its lifecycle in runner_state", async () => {
    const id = await submit(G, "proc-echo", "hello process", proc());
    const events = await readStream(eventsUrl(G, id));
    const seen = describeEvents(events);
    expect(statusTrail(events), seen).toEqual(["queued#1", "running#1", "completed#1"]);
    const types = events.map((e) => e.type);
    for (const t of ["step.start", "text.delta", "message", "tool.call", "tool.result", "usage", "step.finish"]) expect(types, seen).toContain(t);
    expect(events.find((e) => e.type === "tool.result")?.data.data).toMatchObject({ tool: "echo", result: { said: "hello process" } });
    expect(events.filter((e) => e.type === "step.start").map((e) => e.data.data.round)).toEqual([1, 2]);
    const task = await getTask(G, id);
    expect(task.result).toEqual({ text: "Echo agent (round 2): hello process" });
    expect(task.runner_state).toMatchObject({
      status: "removed",
      history: ["created", "running", "stopped", "removed"],
      exit_code: 0,
      workspace_removed: true,
    });
    expect(fs.existsSync(task.runner_state.workspace), "workspace removed").toBe(false);
    expect(alive(task.runner_state.pid)).toBe(false);
  });

  it("refuses a program that is not a file name in the runner's folder with a 400 naming the field", async () => {
    const res = await http("POST", `${G}/v1/tasks`, {
      agent: "proc-echo",
      input: "x",
      executor: { type: "remote", runner: { kind: "process", config: { program: "../../bin/sh" } } },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([{ path: "executor.runner.config.program", message: expect.any(String) }]);
  });

  it("puts the agent's tool calls through the kernel's policy check: a call that needs approval never runs", async () => {
    const id = await submit(G, "proc-guarded", "guarded", proc());
    const events = await readStream(eventsUrl(G, id));
    const seen = describeEvents(events);
    expect(statusTrail(events), seen).toEqual(["queued#1", "running#1", "failed#1"]);
    expect(events.at(-1)?.data.data.error, seen).toMatchObject({ code: "parking_unsupported", retryable: false });
    expect(
      events.map((e) => e.type),
      "the echo tool never ran",
    ).not.toContain("tool.result");
    // The kernel failed the task; the runner then stops the agent and removes its workspace.
    const task = await waitForTask(G, id, (t) => t.runner_state?.status === "removed", 10_000, "agent removed");
    expect(task.runner_state).toMatchObject({ workspace_removed: true });
    expect(alive(task.runner_state.pid)).toBe(false);
  });

  it("fails the task with the agent's error and keeps the failure as the agent status", async () => {
    const id = await submit(G, "proc-echo", "fail: not today", proc());
    const events = await readStream(eventsUrl(G, id));
    expect(events.at(-1)?.data.data).toMatchObject({
      status: "failed",
      error: { code: "agent_refused", message: "asked to fail: not today", retryable: false },
    });
    const task = await getTask(G, id);
    expect(task.runner_state).toMatchObject({ status: "failed", reason: "asked to fail: not today", workspace_removed: true });
    expect(task.runner_state.history).toEqual(["created", "running", "failed", "removed"]);
  });

  it("stops the agent's process group on cancel", async () => {
    const id = await submit(G, "proc-echo", "cancel me", proc(SLOW));
    const stream = openStream(eventsUrl(G, id));
    const pid = await agentPid(id);
    await stream.waitFor((e) => e.type === "text.delta" && String(e.data.data.delta).length < 5, 15_000);
    expect((await http("POST", `${G}/v1/tasks/${id}/cancel`)).status).toBe(202);
    const events = await untilTerminal(G, id, stream, 15_000);
    expect(statusTrail(events), describeEvents(events)).toEqual(["queued#1", "running#1", "canceled#1"]);
    await gone(pid, "agent after cancel");
    const task = await waitForTask(G, id, (t) => t.runner_state?.status === "removed", 5000, "workspace removed");
    expect(task.runner_state).toMatchObject({ history: ["created", "running", "stopped", "removed"], reason: "run stopped (canceled)" });
  });

  it("stops the agent when its runner drains (SIGTERM), and the task resumes on another node", async () => {
    const id = await submit(G, "proc-echo", "drain me", proc(SLOW));
    const stream = openStream(eventsUrl(G, id));
    const pid = await agentPid(id);
    await stream.waitFor((e) => e.type === "tool.result", 15_000);
    const nodeB = await fleet.addRunner(PROCESS_NODE);
    expect(await nodeA.stop(), "the drained node exits cleanly").toBe(0);
    await gone(pid, "agent after its runner's SIGTERM");
    const events = await untilTerminal(G, id, stream, 45_000);
    const seen = describeEvents(events);
    expect(events.find((e) => isStatus(e, "queued", 2))?.data.data.error, seen).toMatchObject({ code: "runner_released" });
    expect(events.at(-1)?.data.data, seen).toMatchObject({ status: "completed", attempt: 2, result: { text: "Echo agent (round 2): drain me" } });
    // Attempt 2 resumed from the agent's checkpoint: the echo tool ran once, in attempt 1.
    expect(
      events.filter((e) => e.type === "tool.call").map((e) => e.data.attempt),
      seen,
    ).toEqual([1]);
    nodeA = nodeB;
  });

  it("leaves no agent behind when its runner is killed: EOF ends a well-behaved agent, the next node sweeps a stubborn one", async () => {
    const polite = await submit(G, "proc-echo", "polite", proc(SLOW));
    const stubborn = await submit(G, "proc-echo", "stubborn", proc([...SLOW, "--stubborn"]));
    const [politePid, stubbornPid] = await Promise.all([agentPid(polite), agentPid(stubborn)]);
    await nodeA.kill("SIGKILL");
    await gone(politePid, "well-behaved agent after its runner's SIGKILL (stdin EOF)");
    expect(alive(stubbornPid), "the stubborn agent ignores EOF").toBe(true);
    const nodeC = await fleet.addRunner(PROCESS_NODE);
    await gone(stubbornPid, "stubborn agent after the next node's sweep");
    await nodeC.waitForLog((l) => l.msg === "killed an agent process left by a runner that is gone" && l.pid === stubbornPid, 5000);
    // Both tasks run again on the new node and complete.
    for (const id of [polite, stubborn]) {
      const t = await waitForTask(G, id, (t) => t.status === "completed", 45_000, "completed after the crash");
      expect(t.attempt).toBe(2);
    }
  });
});
