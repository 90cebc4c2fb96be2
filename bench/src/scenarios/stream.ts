// (3a) Streaming: one runner streams a long text in small text.delta chunks to one SSE client.
// Events/s counts text.delta frames received from the first to the last one.
import type { Fleet } from "@switchyard/devkit";
import type { Config } from "../config.ts";
import { followSse, requestJson } from "../http-client.ts";
import { CpuMeter, load1, round } from "../proc.ts";
import { defineAgent } from "../switchyard.ts";

export interface StreamResult {
  chars: number;
  chunk_chars: number;
  deltas: number;
  events: number;
  delta_events_per_s: number;
  /** submit → completed seen by the client. */
  total_seconds: number;
  server_cpu_us_per_event: number;
  client_cpu_us_per_event: number;
  server_cpu_by_process_s: Record<string, number>;
  load1: number;
}

export async function streamOneClient(fleet: Fleet, cfg: Config, pids: Record<string, number>): Promise<StreamResult> {
  // Words of exactly chunk_chars characters (a space included), so every delta is full size.
  const word = `${"x".repeat(Math.max(1, cfg.chunkChars - 1))} `;
  const text = word.repeat(Math.max(1, Math.floor(cfg.streamChars / word.length)));
  await defineAgent(fleet, "bench-stream", { model: "scripted", script: [{ text }] });

  const meter = new CpuMeter(pids);
  meter.start();
  const t0 = performance.now();
  const res = await requestJson(fleet.gatewayUrl, "POST", "/v1/tasks", { agent: "bench-stream", input: "go" });
  if (res.status !== 202) throw new Error(`stream submit: ${res.status}`);
  let deltas = 0;
  let firstDelta = Number.NaN;
  let lastDelta = Number.NaN;
  const follow = await followSse(fleet.gatewayUrl, `/v1/tasks/${String(res.body.id)}/events`, {
    onEvent: (f) => {
      if (f.type !== "text.delta") return;
      deltas++;
      if (Number.isNaN(firstDelta)) firstDelta = f.receivedAt;
      lastDelta = f.receivedAt;
    },
  });
  const cpu = meter.stop();
  if (follow.terminalStatus !== "completed") throw new Error(`stream task ended ${follow.terminalStatus}`);
  return {
    chars: text.length,
    chunk_chars: cfg.chunkChars,
    deltas,
    events: follow.events,
    delta_events_per_s: round((deltas - 1) / ((lastDelta - firstDelta) / 1000), 0),
    total_seconds: round((follow.terminalAt - t0) / 1000, 3),
    server_cpu_us_per_event: round((cpu.total * 1e6) / follow.events, 1),
    client_cpu_us_per_event: round((cpu.client * 1e6) / follow.events, 1),
    server_cpu_by_process_s: cpu.perProcess,
    load1: load1(),
  };
}
