// (3b) Fan-out: one task followed by many SSE clients. The agent first sleeps (the followers
// connect meanwhile), then runs paced tool rounds (text + a `sleep` tool each), ~7 events per
// round. Lag is receipt time minus the event's `ts` (stamped by the runner or kernel), counted
// only for events stamped after every follower was connected and live.
import type { Fleet } from "@switchyard/devkit";
import type { Config } from "../config.ts";
import { eventTsMs, followSse, requestJson } from "../http-client.ts";
import { CpuMeter, load1, round, rssBytes } from "../proc.ts";
import { type Summary, summarize } from "../stats.ts";
import { defineAgent } from "../switchyard.ts";

export interface FanoutResult {
  followers: number;
  rounds: number;
  connect_all_ms: number;
  completed_followers: number;
  deliveries_measured: number;
  /** Events a follower received (median). */
  events_per_follower: number;
  lag_ms: Summary;
  gateway_rss_mb_before: number;
  gateway_rss_mb_peak: number;
  gateway_rss_kb_per_follower: number;
  gateway_cpu_s: number;
  nats_cpu_s: number;
  client_cpu_s: number;
  load1: number;
}

export async function fanout(fleet: Fleet, cfg: Config, pids: Record<string, number>): Promise<FanoutResult> {
  const rounds = cfg.fanoutRounds;
  const script: unknown[] = [{ sleep_ms: cfg.fanoutDelayMs }];
  for (let i = 0; i < rounds; i++) script.push({ text: `tick ${i}`, tool: { name: "sleep", args: { ms: cfg.fanoutTickMs } } });
  script.push({ text: "done" });
  await defineAgent(fleet, "bench-fanout", { model: "scripted", tools: ["sleep"], limits: { max_rounds: rounds + 2 }, script });

  const gatewayPid = fleet.services.gateway.pid;
  const rssBefore = rssBytes(gatewayPid);
  let rssPeak = rssBefore;
  const rssTimer = setInterval(() => {
    rssPeak = Math.max(rssPeak, rssBytes(gatewayPid));
  }, 100);

  const meter = new CpuMeter(pids);
  meter.start();
  const res = await requestJson(fleet.gatewayUrl, "POST", "/v1/tasks", { agent: "bench-fanout", input: "go" });
  if (res.status !== 202) throw new Error(`fanout submit: ${res.status}`);
  const path = `/v1/tasks/${String(res.body.id)}/events`;

  const t0 = performance.now();
  let live = 0;
  let allLiveAt = Number.POSITIVE_INFINITY; // epoch ms
  let allLive!: () => void;
  const allLivePromise = new Promise<void>((r) => (allLive = r));
  const lags: number[] = [];
  const perFollower: number[] = [];
  const followers = Array.from({ length: cfg.followers }, () => {
    let first = true;
    let n = 0;
    return followSse(fleet.gatewayUrl, path, {
      onEvent: (f) => {
        n++;
        if (first) {
          first = false;
          if (++live === cfg.followers) {
            allLiveAt = Date.now();
            allLive();
          }
        }
        const ts = eventTsMs(f.data);
        if (ts > allLiveAt) lags.push(Date.now() - ts);
      },
    }).then(
      (r) => {
        perFollower.push(n);
        return r.terminalStatus === "completed";
      },
      () => false,
    );
  });
  await Promise.race([allLivePromise, new Promise((r) => setTimeout(r, 60_000))]);
  const connectMs = performance.now() - t0;
  const results = await Promise.all(followers);
  clearInterval(rssTimer);
  const cpu = meter.stop();
  if (connectMs > cfg.fanoutDelayMs)
    console.error(
      `[bench] fanout: connecting ${cfg.followers} followers took ${Math.round(connectMs)} ms (> the agent's ${cfg.fanoutDelayMs} ms head start); early events are excluded from the lag`,
    );
  return {
    followers: cfg.followers,
    rounds,
    connect_all_ms: round(connectMs, 0),
    completed_followers: results.filter(Boolean).length,
    deliveries_measured: lags.length,
    events_per_follower: summarize(perFollower, 0).p50,
    lag_ms: summarize(lags, 1),
    gateway_rss_mb_before: round(rssBefore / 2 ** 20, 1),
    gateway_rss_mb_peak: round(rssPeak / 2 ** 20, 1),
    gateway_rss_kb_per_follower: round((rssPeak - rssBefore) / 1024 / cfg.followers, 1),
    gateway_cpu_s: cpu.perProcess.gateway ?? Number.NaN,
    nats_cpu_s: cpu.perProcess["nats-server"] ?? Number.NaN,
    client_cpu_s: cpu.client,
    load1: load1(),
  };
}
