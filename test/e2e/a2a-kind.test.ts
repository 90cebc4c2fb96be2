// The `a2a` runner kind over real processes, against a remote agent built with @a2a-js/sdk's
// server side (test/src/a2a-server.ts, in this process): events relayed over SSE, a remote
// that asks for input, one that fails, cancel propagated to the remote task, and a runner
// crash resumed by subscribing to the same remote task (the message is sent once).
import http_ from "node:http";
import type { AddressInfo } from "node:net";
import { type Fleet, type ServiceProcess, startFleet } from "@switchyard/devkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type A2aTestServer, startA2aServer } from "../src/a2a-server.ts";
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
let remote: A2aTestServer;
let node: ServiceProcess;
/** An internal service (listening on every interface) that counts what reaches it; asked at 127.0.0.1, it redirects to 127.0.0.2. */
let internal: http_.Server;
let internalPort = 0;
const internalHits: string[] = [];
// The remote agent listens on 127.0.0.1: this node's operator allows that address and nothing
// else that is not public (EGRESS_ALLOW); 127.0.0.2 and the metadata address stay refused.
const A2A_NODE = { RUNNER_KINDS: "a2a", RUNNER_SERVE_LOCAL: "false", EGRESS_ALLOW: "public,127.0.0.1" };
const a2a = () => ({ executor: { type: "remote", runner: { kind: "a2a", config: { url: remote.url, headers: { authorization: "Bearer remote-secret" } } } } });

beforeAll(async () => {
  remote = await startA2aServer();
  internal = http_.createServer((req, res) => {
    internalHits.push(`${req.headers.host} ${req.url}`);
    if (req.headers.host?.startsWith("127.0.0.1:")) res.writeHead(302, { location: `http://127.0.0.2:${internalPort}/secret` }).end();
    else res.writeHead(200, { "content-type": "application/json" }).end('{"secret":"internal data"}');
  });
  await new Promise<void>((r) => internal.listen(0, "0.0.0.0", () => r()));
  internalPort = (internal.address() as AddressInfo).port;
  fleet = await startFleet({ runnerNodes: 1, env: { LOG_LEVEL: "info", ...FAST_KERNEL_ENV }, runnerEnv: FAST_RUNNER_ENV });
  G = fleet.gatewayUrl;
  node = await fleet.addRunner(A2A_NODE);
  await putAgents(G, {
    "a2a-proxy": {
      model: "scripted",
      executor_overrides: ["a2a"],
      script: [{ text: "unused by the a2a kind" }],
      retry: { max_attempts: 3, initial_backoff_ms: 100, max_backoff_ms: 200 },
    },
  });
});

afterAll(async () => {
  await fleet?.stop();
  await remote?.close();
  await new Promise((r) => internal?.close(r));
});

describe("a2a runner kind", () => {
  it("sends the input to the remote agent and relays its stream as events", async () => {
    const id = await submit(G, "a2a-proxy", "hello there", a2a());
    const events = await readStream(eventsUrl(G, id));
    const seen = describeEvents(events);
    expect(statusTrail(events), seen).toEqual(["queued#1", "running#1", "completed#1"]);
    const deltas = events.filter((e) => e.type === "text.delta").map((e) => e.data.data.delta);
    expect(deltas, seen).toEqual(["Thinking about it.\n", "Remote answer to: ", "hello there"]);
    expect(events.find((e) => e.type === "message")?.data.data, seen).toEqual({ round: 1, role: "assistant", content: "Remote answer to: hello there" });
    const task = await getTask(G, id);
    expect(task.result).toEqual({ text: "Remote answer to: hello there" });
    expect(task.runner_state).toMatchObject({ url: remote.url, remote_state: "completed", remote_task_id: expect.any(String), resumed: false });
    expect(remote.executions.get("hello there")).toBe(1);
    // The configured headers go with every request, the agent card's included.
    expect(remote.authorizations.length).toBeGreaterThanOrEqual(2);
    expect(new Set(remote.authorizations)).toEqual(new Set(["Bearer remote-secret"]));
  });

  it("refuses a config without a valid url with a 400 naming the field", async () => {
    const res = await http("POST", `${G}/v1/tasks`, {
      agent: "a2a-proxy",
      input: "x",
      executor: { type: "remote", runner: { kind: "a2a", config: { url: "agent.local" } } },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([{ path: "executor.runner.config.url", message: expect.any(String) }]);
  });

  it("relays a remote agent's question and fails with input_required_unsupported", async () => {
    const id = await submit(G, "a2a-proxy", "ask me something", a2a());
    const events = await readStream(eventsUrl(G, id));
    const seen = describeEvents(events);
    expect(events.find((e) => e.type === "message")?.data.data.content, seen).toBe("Which city?");
    expect(events.at(-1)?.data.data, seen).toMatchObject({ status: "failed", error: { code: "input_required_unsupported", retryable: false } });
    expect((await getTask(G, id)).error.message).toContain("Which city?");
  });

  it("fails with remote_error when the remote task fails", async () => {
    const id = await submit(G, "a2a-proxy", "fail please", a2a());
    const events = await readStream(eventsUrl(G, id));
    expect(events.at(-1)?.data.data, describeEvents(events)).toMatchObject({
      status: "failed",
      error: { code: "remote_error", message: "a2a: remote task failed: the remote agent broke", retryable: false },
    });
  });

  it("cancels the remote task when the task is canceled", async () => {
    const id = await submit(G, "a2a-proxy", "slow cancel", a2a());
    const stream = openStream(eventsUrl(G, id));
    await stream.waitFor((e) => e.type === "text.delta" && String(e.data.data.delta).startsWith("part"), 15_000);
    const remoteId = (await waitForTask(G, id, (t) => t.runner_state?.remote_task_id, 5000, "remote task id")).runner_state.remote_task_id;
    expect((await http("POST", `${G}/v1/tasks/${id}/cancel`)).status).toBe(202);
    const events = await untilTerminal(G, id, stream, 15_000);
    expect(statusTrail(events), describeEvents(events)).toEqual(["queued#1", "running#1", "canceled#1"]);
    await eventually(async () => remote.ended.get(remoteId) === "canceled", 10_000, "remote task canceled");
    expect(remote.cancels).toContain(remoteId);
  });

  it("after a runner crash, resumes by subscribing to the same remote task instead of sending the message again", async () => {
    const id = await submit(G, "a2a-proxy", "slow crash", a2a());
    const stream = openStream(eventsUrl(G, id));
    await stream.waitFor((e) => e.type === "text.delta" && e.data.data.delta === "part 2. ", 15_000);
    await node.kill("SIGKILL");
    node = await fleet.addRunner(A2A_NODE);
    const events = await untilTerminal(G, id, stream, 45_000);
    const seen = describeEvents(events);
    expect(events.find((e) => isStatus(e, "queued", 2))?.data.data.error, seen).toMatchObject({ code: "runner_lost" });
    expect(events.at(-1)?.data.data, seen).toMatchObject({ status: "completed", attempt: 2 });
    const all = Array.from({ length: 12 }, (_, i) => `part ${i + 1}. `).join("");
    expect((await getTask(G, id)).result.text).toBe(all);
    expect(remote.executions.get("slow crash"), "the remote agent ran the message once").toBe(1);
    const task = await getTask(G, id);
    expect(task.runner_state).toMatchObject({ resumed: true, remote_state: "completed", remote_task_id: expect.any(String) });
    const resumedLine = await node.waitForLog((l) => l.msg === "a2a: resuming the remote task" && l.task_id === id, 2000);
    expect(resumedLine.remote_task_id).toBe(task.runner_state.remote_task_id);
    console.log(`[a2a] crash resume: remote task was '${resumedLine.remote_state}' when attempt 2 found it`);
  });
});

describe("a2a egress (EGRESS_ALLOW)", () => {
  const at = (url: string) => ({ executor: { type: "remote", runner: { kind: "a2a", config: { url } } } });

  it("refuses loopback, metadata and redirected destinations with egress_denied before connecting, and does not retry", async () => {
    if (!node.isRunning()) node = await fleet.addRunner(A2A_NODE); // the crash test replaces it
    internalHits.length = 0;
    for (const [url, host] of [
      [`http://127.0.0.2:${internalPort}/agent`, "127.0.0.2"],
      ["http://169.254.169.254/latest/meta-data/", "169.254.169.254"],
      [`http://[::1]:${internalPort}/agent`, "::1"],
      [`http://127.0.0.1:${internalPort}/agent`, "127.0.0.2"], // allowed itself, but its redirect is not
    ] as const) {
      const t0 = Date.now();
      const id = await submit(G, "a2a-proxy", "probe", at(url));
      const task = await waitForTask(G, id, (t) => t.status === "failed" || t.status === "completed", 30_000, "the probe to end");
      console.log(`[egress] a2a task to ${url} → ${task.status} ${task.error?.code} in ${Date.now() - t0} ms`);
      expect(task.status, JSON.stringify(task.error)).toBe("failed");
      expect(task.error).toMatchObject({ code: "egress_denied", retryable: false, message: expect.stringContaining(`'${host}'`) });
      expect(task.attempt).toBe(1);
    }
    // Only the allowed first hop of the redirect reached the internal service; nothing else did.
    expect(internalHits).toEqual([`127.0.0.1:${internalPort} /.well-known/agent-card.json`]);
  });
});
