// `npm run bench:real-agents -w bench`: figures of issue 10 (real models and MCP tools), on the
// real fleet (one runner node) against the local provider server of the tests streaming as
// fast as it can, and the SDK's MCP test server over stdio. Prints one JSON line per figure:
//   provider_stream  events/s of text.delta from one provider stream through one runner to one SSE client
//   first_byte       ms from the provider's first byte to the SSE client's first text.delta (p50/p99)
//   mcp_call         ms of an MCP tool call through the fleet (tool.call → tool.result at the SSE
//                    client, kernel round check included) against a direct SDK client call (p50/p99)
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { startFleet } from "@switchyard/devkit";
import { startFakeProvider } from "../../test/src/fake-providers.ts";
import { openStream } from "../../test/src/sse.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 40);
const STREAM_CHUNKS = Number(process.env.BENCH_STREAM_CHUNKS ?? 5000);
const testServer = path.resolve(import.meta.dirname, "../../test/src/mcp-test-server.ts");

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number) : Number.NaN;
};
const round1 = (x: number) => Math.round(x * 10) / 10;

async function post(url: string, body: unknown): Promise<{ id: string }> {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return (await res.json()) as { id: string };
}

const fake = await startFakeProvider((r) => {
  const model = String(r.body.model);
  const toolTurn = JSON.stringify(r.body.messages).includes("tool_call_id");
  if (model === "stream") return { text: Array.from({ length: STREAM_CHUNKS }, (_, i) => `t${i} `), usage: { input: 1, output: STREAM_CHUNKS } };
  if (model === "first") return { text: ["hello ", "world"], usage: { input: 1, output: 2 } };
  return toolTurn ? { text: ["done"], usage: { input: 1, output: 1 } } : { tools: [{ name: "tst_add", args: { a: 1, b: 2 } }], usage: { input: 1, output: 1 } };
});
const dir = mkdtempSync(path.join(tmpdir(), "sy-bench-real-"));
const mcpFile = path.join(dir, "mcp.json");
writeFileSync(mcpFile, JSON.stringify({ mcpServers: { tst: { command: process.execPath, args: [testServer] } } }));
const fleet = await startFleet({
  runnerNodes: 1,
  readyTimeoutMs: 60_000,
  runnerEnv: { OPENAI_BASE_URL: fake.baseUrl, OPENAI_API_KEY: "bench", MCP_SERVERS: mcpFile },
});
const G = fleet.gatewayUrl;
try {
  for (const [name, def] of Object.entries({
    "b-stream": { model: "openai:stream", limits: { max_rounds: 2 } },
    "b-first": { model: "openai:first" },
    "b-mcp": { model: "openai:mcp", mcp: ["tst.add"] },
  })) {
    for (let i = 0; ; i++) {
      const res = await fetch(`${G}/v1/agents/${name}`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(def) });
      if (res.ok) break;
      if (i > 100) throw new Error(`PUT ${name}: ${res.status} ${await res.text()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const run = async (agent: string) => {
    const { id } = await post(`${G}/v1/tasks`, { agent, input: "go" });
    const s = openStream(`${G}/v1/tasks/${id}/events`);
    await s.done;
    return { id: id as string, events: s.events };
  };

  // 1. One long provider stream through one runner.
  await run("b-first"); // warm-up
  const { events } = await run("b-stream");
  const deltas = events.filter((e) => e.type === "text.delta");
  const span = (deltas.at(-1)?.receivedAt ?? 0) - (deltas[0]?.receivedAt ?? 0);
  console.log(
    JSON.stringify({
      bench: "provider_stream",
      chunks: STREAM_CHUNKS,
      text_delta_events: deltas.length,
      ms: span,
      events_per_s: Math.round((deltas.length / span) * 1000),
    }),
  );

  // 2. Provider's first byte → SSE client's first text.delta.
  const lags: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const before = fake.requests.length;
    const r = await run("b-first");
    const req = fake.requests.slice(before).find((q) => q.body.model === "first");
    const first = r.events.find((e) => e.type === "text.delta");
    if (req?.firstByteAt && first) lags.push(first.receivedAt - req.firstByteAt);
  }
  console.log(JSON.stringify({ bench: "first_byte", n: lags.length, p50_ms: pct(lags, 50), p99_ms: pct(lags, 99) }));

  // 3. An MCP tool call through the fleet against a direct SDK call to the same server.
  const fleetCalls: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const r = await run("b-mcp");
    const call = r.events.find((e) => e.type === "tool.call");
    const result = r.events.find((e) => e.type === "tool.result");
    if (call && result) fleetCalls.push(result.receivedAt - call.receivedAt);
  }
  const client = new Client({ name: "bench", version: "1" });
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [testServer], stderr: "ignore" }));
  const direct: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = performance.now();
    await client.callTool({ name: "add", arguments: { a: 1, b: 2 } });
    direct.push(performance.now() - t0);
  }
  await client.close();
  console.log(
    JSON.stringify({
      bench: "mcp_call",
      n: ROUNDS,
      fleet_p50_ms: pct(fleetCalls, 50),
      fleet_p99_ms: pct(fleetCalls, 99),
      direct_p50_ms: round1(pct(direct, 50)),
      direct_p99_ms: round1(pct(direct, 99)),
      overhead_p50_ms: round1(pct(fleetCalls, 50) - pct(direct, 50)),
    }),
  );
} finally {
  await fleet.stop();
  await fake.close();
}
