// Real agents over the fleet (issue 10): models through the `ai` SDK against a local server
// speaking the providers' documented wire formats (test/src/fake-providers.ts), and MCP tools
// from real MCP servers: one written with the SDK (stdio and Streamable HTTP) and the published
// @modelcontextprotocol/server-everything over stdio. Separate processes throughout; nothing of
// the SDKs is mocked.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Fleet, startFleet } from "@switchyard/devkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeProvider, type ProviderRequest, startFakeProvider, type Turn } from "../src/fake-providers.ts";
import { eventually, http } from "../src/http.ts";
import { openStream } from "../src/sse.ts";
import {
  describeEvents,
  ensureRunners,
  eventsUrl,
  FAST_KERNEL_ENV,
  FAST_RUNNER_ENV,
  getTask,
  ownerNode,
  putAgents,
  runnerByLabel,
  statusTrail,
  submit,
  terminalEvents,
  untilTerminal,
  waitForTask,
} from "../src/support.ts";

const require = createRequire(import.meta.url);
const dir = mkdtempSync(path.join(tmpdir(), "sy-real-agents-"));
const mcpLog = path.join(dir, "mcp.log");
const testServer = path.join(import.meta.dirname, "../src/mcp-test-server.ts");

let fleet: Fleet;
let G: string;
let fake: FakeProvider;
let httpMcp: ChildProcess;
let legacyMcp: ChildProcess;

const isToolTurn = (r: ProviderRequest) => JSON.stringify(r.body.messages).includes("tool_call_id") || JSON.stringify(r.body.messages).includes("tool_result");
const byModel = (model: string) => fake.requests.filter((r) => r.body.model === model);
/** Per model: what the provider answers to the n-th request for it (and whether it carries tool results). */
const scripts: Record<string, (r: ProviderRequest, nth: number) => Turn> = {};

const AGENTS = {
  "ra-main": {
    model: "openai:gpt-main",
    instructions: "You add numbers.",
    tools: ["echo"],
    mcp: ["tst"],
    approval: { policy: "pattern", tools: ["tst.add"] },
    temperature: 0.3,
    max_output_tokens: 500,
  },
  "ra-429": { model: "anthropic:claude-429", retry: { max_attempts: 3, initial_backoff_ms: 10, max_backoff_ms: 50 } },
  "ra-401": { model: "local:llama-401", retry: { max_attempts: 3, initial_backoff_ms: 10, max_backoff_ms: 50 } },
  "ra-cancel": { model: "openai:gpt-cancel" },
  "ra-mcp": { model: "local:llama-mcp", mcp: ["everything.echo", "everything.get-tiny-image", "web.add", "legacy.add", "tst.pid", "tst.big"] },
  "ra-mcp-cancel": { model: "local:llama-mcp-cancel", mcp: ["tst.slow"] },
};

beforeAll(async () => {
  fake = await startFakeProvider((r) => {
    const nth = byModel(String(r.body.model)).length;
    const script = scripts[String(r.body.model)];
    return script ? script(r, nth) : { text: ["no script"] };
  });
  const listen = (child: ChildProcess) =>
    new Promise<number>((resolve, reject) => {
      child.stdout?.on("data", (b: Buffer) => {
        const m = /listening (\d+)/.exec(b.toString());
        if (m) resolve(Number(m[1]));
      });
      child.on("exit", () => reject(new Error("MCP HTTP test server exited")));
    });
  httpMcp = spawn(process.execPath, [testServer, "--http", "0"], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await listen(httpMcp);
  // A server of the older HTTP+SSE transport only: the runner's Streamable HTTP attempt fails and it falls back.
  legacyMcp = spawn(process.execPath, [testServer, "--sse", "0"], { stdio: ["ignore", "pipe", "inherit"] });
  const legacyPort = await listen(legacyMcp);
  const mcpFile = path.join(dir, "mcp.json");
  writeFileSync(
    mcpFile,
    JSON.stringify({
      mcpServers: {
        tst: { command: process.execPath, args: [testServer], env: { MCP_TEST_LOG: mcpLog } },
        // Ignores the end of its stdin: only the runner's guard stops it when the runner dies.
        stubborn: { command: process.execPath, args: [testServer], env: { MCP_TEST_STUBBORN: "1" } },
        everything: { command: process.execPath, args: [require.resolve("@modelcontextprotocol/server-everything/dist/index.js"), "stdio"] },
        web: { url: `http://127.0.0.1:${port}/mcp` },
        legacy: { url: `http://127.0.0.1:${legacyPort}/sse` },
      },
    }),
  );
  fleet = await startFleet({
    runnerNodes: 2,
    runnerEnv: {
      ...FAST_RUNNER_ENV,
      OPENAI_BASE_URL: fake.baseUrl,
      OPENAI_API_KEY: "sk-test-openai",
      ANTHROPIC_BASE_URL: fake.baseUrl,
      ANTHROPIC_API_KEY: "sk-test-anthropic",
      PROVIDER_LOCAL_BASE_URL: fake.baseUrl,
      PROVIDER_LOCAL_API_KEY: "sk-test-local",
      MCP_SERVERS: mcpFile,
    },
    env: FAST_KERNEL_ENV,
    // A runner is ready once its four MCP servers are up: slower than usual on a busy machine.
    readyTimeoutMs: 60_000,
  });
  G = fleet.gatewayUrl;
  // Runner nodes publish each MCP server's tools once it has connected: until then a PUT naming it is refused.
  await eventually(
    async () => {
      for (const [name, def] of Object.entries(AGENTS)) if ((await http("PUT", `${G}/v1/agents/${name}`, def)).status !== 200) return false;
      const nodes = (await http("GET", `${G}/v1/runners`)).body.items as unknown[];
      return nodes.length === 2;
    },
    60_000,
    "every MCP server connected and the agents stored",
  );
}, 120_000);

afterAll(async () => {
  await fleet?.stop();
  httpMcp?.kill("SIGKILL");
  legacyMcp?.kill("SIGKILL");
  await fake?.close();
});

describe("real models and MCP tools over the fleet", () => {
  it("streams, calls an MCP tool through an approval, survives a kill -9 mid-round, completes once with the provider's usage", async () => {
    scripts["gpt-main"] = (r) => {
      if (!isToolTurn(r))
        return {
          text: ["Let me ", "add that."],
          tools: [
            { name: "tst_add", args: { a: 2, b: 3 } },
            { name: "echo", args: { q: "hi" } },
          ],
          usage: { input: 11, output: 7, cached: 4 },
        };
      // Round 2: the first request streams slowly (the runner is killed during it); the retry is quick.
      const round2 = byModel("gpt-main").filter(isToolTurn).length;
      return round2 === 1
        ? { text: Array.from({ length: 60 }, (_, i) => `slow${i} `), chunkDelayMs: 250, usage: { input: 99, output: 99 } }
        : { text: ["The sum ", "is 5."], usage: { input: 20, output: 5 } };
    };
    const id = await submit(G, "ra-main", "add 2 and 3");
    const stream = openStream(eventsUrl(G, id));
    await stream.waitFor((e) => e.type === "approval.requested", 30_000);
    const calls = stream.events.filter((e) => e.type === "tool.call").map((e) => e.data.data);
    expect(calls.map((c) => [c.call_id, c.tool, c.args])).toEqual([
      ["call_1_1", "tst.add", { a: 2, b: 3 }],
      ["call_1_2", "echo", { q: "hi" }],
    ]);
    const deltas = stream.events.filter((e) => e.type === "text.delta" && e.data.data.round === 1).map((e) => e.data.data.delta);
    expect(deltas.join("")).toBe("Let me add that.");
    // The first request: instructions as the system prompt, options passed through, tools mapped.
    const first = byModel("gpt-main")[0];
    expect(first?.body.messages[0]).toEqual({ role: "system", content: "You add numbers." });
    expect(first?.body).toMatchObject({ temperature: 0.3, max_tokens: 500, stream: true, stream_options: { include_usage: true } });
    expect(first?.body.tools.map((t: any) => t.function.name).sort()).toEqual(["echo", "tst_add", "tst_big", "tst_crash", "tst_pid", "tst_slow"]);
    expect(first?.headers.authorization).toBe("Bearer sk-test-openai");

    const approved = await http("POST", `${G}/v1/tasks/${id}/approvals`, { call_id: "call_1_1", decision: "approve" });
    expect(approved.status).toBe(200);
    // Round 2 streams on the resumed attempt; kill its runner mid-stream.
    await stream.waitFor((e) => e.type === "text.delta" && e.data.data.round === 2, 30_000);
    const victim = runnerByLabel(fleet, await ownerNode(G, id));
    await victim.kill("SIGKILL");
    const events = await untilTerminal(G, id, stream, 60_000);
    expect(
      terminalEvents(events).map((e) => e.data.data.status),
      describeEvents(events),
    ).toEqual(["completed"]);
    const results = events.filter((e) => e.type === "tool.result").map((e) => e.data.data);
    expect(results.map((r) => [r.call_id, r.tool, r.result])).toEqual([
      ["call_1_1", "tst.add", { sum: 5 }],
      ["call_1_2", "echo", { q: "hi" }],
    ]);
    const task = await getTask(G, id);
    expect(task.result).toEqual({ text: "The sum is 5." });
    // Usage is the provider's: round 1 and the completed round 2 (the killed stream reported none).
    expect(task.usage).toMatchObject({ input_tokens: 31, output_tokens: 12, total_tokens: 43, cached_input_tokens: 4 });
    // Round 1 was sent once; round 2 twice (killed, then on the other node) with the same conversation.
    const reqs = byModel("gpt-main");
    expect(reqs.filter((r) => !isToolTurn(r))).toHaveLength(1);
    const round2 = reqs.filter(isToolTurn);
    expect(round2).toHaveLength(2);
    expect(round2[1]?.body.messages).toEqual(round2[0]?.body.messages);
    expect(round2[1]?.body.messages.slice(2)).toEqual([
      {
        role: "assistant",
        content: "Let me add that.",
        tool_calls: [
          { id: "call_1_1", type: "function", function: { name: "tst_add", arguments: '{"a":2,"b":3}' } },
          { id: "call_1_2", type: "function", function: { name: "echo", arguments: '{"q":"hi"}' } },
        ],
      },
      { role: "tool", tool_call_id: "call_1_1", content: '{"sum":5}' },
      { role: "tool", tool_call_id: "call_1_2", content: '{"q":"hi"}' },
    ]);
    expect(statusTrail(events).at(-1)).toMatch(/^completed#/);
    await ensureRunners(fleet, 2);
  });

  it("429 with Retry-After: 2, then success: completed on attempt 2, no earlier than the header allows", async () => {
    scripts["claude-429"] = (_r, nth) =>
      nth === 1
        ? { status: 429, headers: { "retry-after": "2" }, message: "Number of requests has exceeded your rate limit" }
        : { reasoning: ["Thinking it ", "over."], text: ["Hello ", "there."], usage: { input: 8, output: 4 } };
    const id = await submit(G, "ra-429", "hi");
    const events = await untilTerminal(G, id, openStream(eventsUrl(G, id)), 60_000);
    expect(
      terminalEvents(events).map((e) => `${e.data.data.status}#${e.data.attempt}`),
      describeEvents(events),
    ).toEqual(["completed#2"]);
    const reqs = byModel("claude-429");
    expect(reqs).toHaveLength(2);
    expect((reqs[1]?.at ?? 0) - (reqs[0]?.at ?? 0)).toBeGreaterThanOrEqual(2000);
    expect(reqs[0]?.headers["x-api-key"]).toBe("sk-test-anthropic");
    const reasoning = events.filter((e) => e.type === "reasoning.delta").map((e) => e.data.data.delta);
    expect(reasoning.join("")).toBe("Thinking it over.");
    const queued = events.find((e) => e.type === "status" && e.data.data.status === "queued" && e.data.attempt === 2);
    expect(queued?.data.data.error).toMatchObject({ code: "model_error", retryable: true, details: { provider: "anthropic", provider_status: 429 } });
    expect((await getTask(G, id)).usage).toMatchObject({ input_tokens: 8, output_tokens: 4, total_tokens: 12 });
  });

  it("401: failed, not retried, and the message names the variable", async () => {
    scripts["llama-401"] = () => ({ status: 401, message: "Invalid API key" });
    const id = await submit(G, "ra-401", "hi");
    const events = await untilTerminal(G, id, openStream(eventsUrl(G, id)), 30_000);
    expect(terminalEvents(events).map((e) => `${e.data.data.status}#${e.data.attempt}`)).toEqual(["failed#1"]);
    const task = await getTask(G, id);
    expect(task.error).toMatchObject({ code: "model_error", retryable: false, details: { provider: "local", provider_status: 401 } });
    expect(task.error.message).toContain("PROVIDER_LOCAL_API_KEY was rejected by local (401)");
    expect(JSON.stringify(events)).not.toContain("sk-test-local");
    expect(byModel("llama-401")).toHaveLength(1);
  });

  it("cancel mid-stream closes the provider's connection", async () => {
    scripts["gpt-cancel"] = () => ({ text: ["still ", "talking "], hang: true });
    const id = await submit(G, "ra-cancel", "talk");
    const stream = openStream(eventsUrl(G, id));
    await stream.waitFor((e) => e.type === "text.delta", 30_000);
    expect((await http("POST", `${G}/v1/tasks/${id}/cancel`, {})).status).toBe(202);
    await eventually(async () => fake.closedEarly.some((r) => r.body.model === "gpt-cancel"), 10_000, "the provider sees its connection closed");
    const events = await untilTerminal(G, id, stream, 30_000);
    expect(terminalEvents(events).map((e) => e.data.data.status)).toEqual(["canceled"]);
  });

  it("refuses an agent whose provider or MCP server no node has, naming the field", async () => {
    const noProvider = await http("PUT", `${G}/v1/agents/ra-bad`, { model: "nowhere:m1" });
    expect(noProvider.status).toBe(400);
    expect(noProvider.body.error.details).toEqual([
      expect.objectContaining({ path: "model", message: expect.stringContaining("no runner node has provider 'nowhere'") }),
    ]);
    const noServer = await http("PUT", `${G}/v1/agents/ra-bad`, { model: "openai:m", mcp: ["tst", "ghost"] });
    expect(noServer.status).toBe(400);
    expect(noServer.body.error.details).toEqual([expect.objectContaining({ path: "mcp.1" })]);
    const noTool = await http("PUT", `${G}/v1/agents/ra-bad`, { model: "openai:m", mcp: ["tst.nosuch"] });
    expect(noTool.status).toBe(400);
    expect(noTool.body.error.details[0].message).toContain("has no tool 'nosuch'");
    const runners = await http("GET", `${G}/v1/runners`);
    expect(runners.body.items[0]).toMatchObject({
      providers: ["anthropic", "local", "openai"],
      mcp_servers: ["everything", "legacy", "stubborn", "tst", "web"],
    });
  });

  it("a task whose provider no node has stays queued and says so (agents/chat-ollama.md loaded with a warning)", async () => {
    const loaded = await fleet.services.spawner.waitForLog((l) => l.agent === "chat-ollama" && String(l.reason).includes("provider 'ollama'"), 5000);
    expect(loaded.msg).toContain("no runner node offers");
    const id = await submit(G, "chat-ollama", "hi");
    const task = await waitForTask(G, id, (t) => t.queue?.message !== undefined, 15_000, "the queue explanation");
    expect(task).toMatchObject({ status: "queued", attempt: 1, queue: { runner_nodes: 0, message: "no runner node has provider 'ollama' (kind 'local')" } });
    // Nodes leave its work item alone: it is still attempt 1, never claimed.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await getTask(G, id)).toMatchObject({ status: "queued", attempt: 1, run_id: null });
    expect((await http("POST", `${G}/v1/tasks/${id}/cancel`, {})).status).toBe(202);
  });

  it("MCP tools: server-everything over stdio, the SDK server over Streamable HTTP and over HTTP+SSE, images as references, long results cut", async () => {
    scripts["llama-mcp"] = (r) =>
      isToolTurn(r)
        ? { text: ["done"], usage: { input: 1, output: 1 } }
        : {
            tools: [
              { name: "everything_echo", args: { message: "hello mcp" } },
              { name: "everything_get-tiny-image", args: {} },
              { name: "web_add", args: { a: 40, b: 2 } },
              { name: "legacy_add", args: { a: 1, b: 2 } },
              { name: "tst_big", args: { chars: 100_000 } },
            ],
            usage: { input: 1, output: 1 },
          };
    const id = await submit(G, "ra-mcp", "go");
    const events = await untilTerminal(G, id, openStream(eventsUrl(G, id)), 60_000);
    expect(
      terminalEvents(events).map((e) => e.data.data.status),
      describeEvents(events),
    ).toEqual(["completed"]);
    const results = Object.fromEntries(events.filter((e) => e.type === "tool.result").map((e) => [e.data.data.tool, e.data.data]));
    expect(String(results["everything.echo"]?.result)).toContain("hello mcp");
    const image = JSON.stringify(results["everything.get-tiny-image"]?.result);
    expect(image).toContain('"type":"image"');
    expect(image).toContain("image/png");
    expect(image.length).toBeLessThan(2000); // a reference, not the bytes
    expect(results["web.add"]?.result).toEqual({ sum: 42 });
    expect(results["legacy.add"]?.result, "over the HTTP+SSE fallback").toEqual({ sum: 3 });
    const big = String(results["tst.big"]?.result);
    expect(big).toMatch(/…\[truncated: 65536 of 100000 characters\]$/);
    const tools = byModel("llama-mcp")[0]
      ?.body.tools.map((t: any) => t.function.name)
      .sort();
    expect(tools).toEqual(["everything_echo", "everything_get-tiny-image", "legacy_add", "tst_big", "tst_pid", "web_add"]);
  });

  it("cancel reaches the MCP server as a cancellation", async () => {
    scripts["llama-mcp-cancel"] = () => ({ tools: [{ name: "tst_slow", args: { ms: 60_000 } }], usage: { input: 1, output: 1 } });
    const id = await submit(G, "ra-mcp-cancel", "wait");
    const stream = openStream(eventsUrl(G, id));
    await stream.waitFor((e) => e.type === "tool.call", 30_000);
    await waitForTask(G, id, (t) => t.live?.last_tool_phase === "begin" || t.status === "running", 10_000, "the tool runs");
    await new Promise((r) => setTimeout(r, 300));
    expect((await http("POST", `${G}/v1/tasks/${id}/cancel`, {})).status).toBe(202);
    await eventually(
      async () => readFileSync(mcpLog, { encoding: "utf8", flag: "a+" }).includes("cancelled"),
      15_000,
      "the MCP server saw notifications/cancelled",
    );
    const events = await untilTerminal(G, id, stream, 30_000);
    expect(terminalEvents(events).map((e) => e.data.data.status)).toEqual(["canceled"]);
  });

  it("a stdio MCP server that dies is restarted; its tools work again", async () => {
    scripts["llama-crash"] = (r) => (isToolTurn(r) ? { text: ["ok"] } : { tools: [{ name: "tst_crash", args: {} }] });
    scripts["llama-after"] = (r) => (isToolTurn(r) ? { text: ["ok"] } : { tools: [{ name: "tst_add", args: { a: 1, b: 1 } }] });
    await putAgents(G, { "ra-crash": { model: "local:llama-crash", mcp: ["tst.crash"] }, "ra-after": { model: "local:llama-after", mcp: ["tst.add"] } });
    const id = await submit(G, "ra-crash", "crash");
    await untilTerminal(G, id, openStream(eventsUrl(G, id)), 30_000);
    // Whichever node ran it restarts its server: a second connection of `tst` is logged.
    const restarted = (r: (typeof fleet.services.runners)[number]) =>
      r.waitForLog((l) => l.msg === "MCP server connected" && l.mcp === "tst" && Number(l.generation) >= 2, 30_000);
    await Promise.any(fleet.services.runners.filter((r) => r.isRunning()).map(restarted));
    for (let i = 0; i < 2; i++) {
      const after = await submit(G, "ra-after", "add");
      const events = await untilTerminal(G, after, openStream(eventsUrl(G, after)), 30_000);
      expect(events.find((e) => e.type === "tool.result")?.data.data.result, describeEvents(events)).toEqual({ sum: 2 });
    }
  });

  it("a stdio MCP server dies with its runner, even on SIGKILL", async () => {
    scripts["llama-pid"] = (r) => (isToolTurn(r) ? { text: ["ok"] } : { tools: [{ name: "stubborn_pid", args: {} }] });
    await putAgents(G, { "ra-pid": { model: "local:llama-pid", mcp: ["stubborn.pid"] } });
    const id = await submit(G, "ra-pid", "pid");
    const events = await untilTerminal(G, id, openStream(eventsUrl(G, id)), 30_000);
    const pid = Number(events.find((e) => e.type === "tool.result")?.data.data.result);
    expect(pid).toBeGreaterThan(0);
    // The server's parent is the guard; the guard's parent is the runner.
    const ppid = (p: number) => Number(readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1]?.split(" ")[1]);
    const runnerPid = ppid(ppid(pid));
    const runner = fleet.services.runners.find((r) => r.pid === runnerPid);
    expect(runner, `runner pid ${runnerPid}`).toBeDefined();
    await runner?.kill("SIGKILL");
    const alive = (p: number) => {
      try {
        process.kill(p, 0);
        return !readFileSync(`/proc/${p}/stat`, "utf8").includes(") Z ");
      } catch {
        return false;
      }
    };
    await eventually(async () => !alive(pid), 15_000, `MCP server ${pid} gone after its runner was killed`);
    await ensureRunners(fleet, 2);
  });
});
