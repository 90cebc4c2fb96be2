// (4) Concurrency on one node: one runner node with many slots holds N tasks that wait on a slow
// scripted model (`sleep_ms`). Reports how many it holds, its heap per held task (from its
// /metrics), and whether its heartbeat and the leases stay on time while it holds them.
import { redisKeys } from "@switchyard/contracts";
import { Redis } from "ioredis";
import type { Config } from "../config.ts";
import { requestJson } from "../http-client.ts";
import { inspectorUrl, liveHeapBytes } from "../inspector.ts";
import { CpuMeter, load1, round, rssBytes } from "../proc.ts";
import { summarize } from "../stats.ts";
import { defineAgent, readMetric, startSwitchyard } from "../switchyard.ts";

// The runner's defaults (services/runner-pool/src/env.ts), pinned so the on-time rule below
// matches what the runner does even when another checkout's services are measured.
export const HEARTBEAT_MS = 500;
export const LEASE_TTL_MS = 1500;

export interface HoldStep {
  target: number;
  held: number;
  submit_per_s: number;
  seconds_to_hold: number;
  heap_mb_idle: number;
  heap_mb: number;
  heap_kb_per_task: number;
  /** How the heap was read: "gc" (after a forced full collection) or "min-sample". */
  heap_method: string;
  rss_mb: number;
  rss_kb_per_task: number;
  heartbeat_age_ms_p50: number;
  heartbeat_age_ms_max: number;
  lease_ttl_ms: number;
  lease_pttl_ms_min: number;
  leases_missing: number;
  on_time: boolean;
  runner_cpu_pct: number;
  kernel_cpu_pct: number;
  redis_cpu_pct: number;
  load1: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function holdTasks(cfg: Config, emit: (step: HoldStep | { skipped: number; reason: string }) => void): Promise<void> {
  const maxTarget = Math.max(...cfg.hold);
  const fleet = await startSwitchyard({
    logLevel: cfg.logLevel,
    runnerNodes: 1,
    // The scenario fills the node as fast as the fleet takes submits: no tenant quota may stop it
    // (the gateway's default of 1,000 submits/s is within reach now).
    env: { RATE_SUBMITS_PER_S: "0", MAX_ACTIVE_TASKS_PER_TENANT: "0" },
    runnerEnv: {
      RUNNER_SLOTS: String(maxTarget + 16),
      METRICS_PORT: "0",
      HEARTBEAT_MS: String(HEARTBEAT_MS),
      LEASE_TTL_MS: String(LEASE_TTL_MS),
      // The inspector lets us force a full GC before reading the heap (its URL is in the log).
      NODE_OPTIONS: "--inspect=127.0.0.1:0",
    },
  });
  const redis = new Redis(fleet.redisUrl);
  try {
    await defineAgent(fleet, "bench-hold", { model: "scripted", script: [{ sleep_ms: 3_600_000 }, { text: "done" }] });
    const runner = fleet.services.runners[0];
    if (!runner) throw new Error("no runner");
    const nodeId = runner.label;
    // The live heap: after a full GC forced through the runner's inspector; without one, the
    // lowest of several /metrics samples (heap used right after a collection) approximates it.
    const wsUrl = inspectorUrl(runner.logs());
    const heapSample = () => readMetric(runner, "sy_nodejs_heap_size_used_bytes");
    const heap = async () => {
      if (wsUrl) return liveHeapBytes(wsUrl);
      const v: number[] = [];
      for (let i = 0; i < 8; i++) {
        v.push(await heapSample());
        await sleep(250);
      }
      return Math.min(...v);
    };
    await sleep(1500);
    const heapIdle = await heap();
    const rssIdle = rssBytes(runner.pid);
    const ids: string[] = [];
    const held = async () => {
      const raw = await redis.get(redisKeys.node(nodeId));
      return raw ? (JSON.parse(raw) as { slots: { used: number }; last_heartbeat: string }) : null;
    };

    for (const target of [...cfg.hold].sort((a, b) => a - b)) {
      // Submit the tasks that are missing (submits only; nobody follows them).
      const t0 = performance.now();
      const submitStart = ids.length;
      let issued = ids.length;
      await Promise.all(
        Array.from({ length: cfg.holdSubmitClients }, async () => {
          while (issued < target) {
            issued++;
            const res = await requestJson(fleet.gatewayUrl, "POST", "/v1/tasks", { agent: "bench-hold", input: "wait" });
            if (res.status === 202) ids.push(String(res.body.id));
            else throw new Error(`hold submit: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
          }
        }),
      );
      const submitSeconds = (performance.now() - t0) / 1000;
      // Held = slots used in the node's own heartbeat record.
      let used = 0;
      let lastProgress = performance.now();
      while (used < target && performance.now() - lastProgress < 15_000) {
        await sleep(250);
        const n = (await held())?.slots.used ?? 0;
        if (n > used) lastProgress = performance.now();
        used = n;
      }
      const secondsToHold = (performance.now() - t0) / 1000;

      // While holding: heartbeat age, lease TTLs of a few random tasks, CPU of the runner.
      const meter = new CpuMeter({ runner: runner.pid, kernel: fleet.services.kernel.pid, redis: fleet.redis?.pid ?? -1 });
      meter.start();
      const ages: number[] = [];
      const pttls: number[] = [];
      let missing = 0;
      const sampleUntil = performance.now() + cfg.holdSampleMs;
      while (performance.now() < sampleUntil) {
        const node = await held();
        if (node) ages.push(Date.now() - Date.parse(node.last_heartbeat));
        const sample = Array.from({ length: 5 }, () => ids[Math.floor(Math.random() * ids.length)] as string);
        const p = redis.pipeline();
        for (const id of sample) p.pttl(redisKeys.lease(id));
        for (const [err, v] of (await p.exec()) ?? []) {
          if (err) continue;
          if (Number(v) < 0) missing++;
          else pttls.push(Number(v));
        }
        await sleep(250);
      }
      const cpu = meter.stop();
      const heapNow = await heap();
      const rssNow = rssBytes(runner.pid);
      const finalUsed = (await held())?.slots.used ?? 0;
      const ageSummary = summarize(ages, 0);
      const pttlMin = pttls.length ? Math.min(...pttls) : Number.NaN;
      const pct = (s: number) => round((s / (cfg.holdSampleMs / 1000)) * 100, 1);
      emit({
        target,
        held: Math.min(used, finalUsed),
        submit_per_s: round((ids.length - submitStart) / submitSeconds, 0),
        seconds_to_hold: round(secondsToHold, 1),
        heap_mb_idle: round(heapIdle / 2 ** 20, 1),
        heap_mb: round(heapNow / 2 ** 20, 1),
        heap_kb_per_task: round((heapNow - heapIdle) / 1024 / Math.max(1, finalUsed), 2),
        heap_method: wsUrl ? "gc" : "min-sample",
        rss_mb: round(rssNow / 2 ** 20, 1),
        rss_kb_per_task: round((rssNow - rssIdle) / 1024 / Math.max(1, finalUsed), 2),
        heartbeat_age_ms_p50: ageSummary.p50,
        heartbeat_age_ms_max: ageSummary.max,
        lease_ttl_ms: LEASE_TTL_MS,
        lease_pttl_ms_min: pttlMin,
        leases_missing: missing,
        on_time: ageSummary.max < 2 * HEARTBEAT_MS && missing === 0 && pttlMin > LEASE_TTL_MS - 2 * HEARTBEAT_MS,
        runner_cpu_pct: pct(cpu.perProcess.runner ?? Number.NaN),
        kernel_cpu_pct: pct(cpu.perProcess.kernel ?? Number.NaN),
        redis_cpu_pct: pct(cpu.perProcess.redis ?? Number.NaN),
        load1: load1(),
      });
      if (finalUsed < target) break;
      // Only go on when the next step fits the time budget at the rate just seen.
      const next = cfg.hold.filter((h) => h > target).sort((a, b) => a - b)[0];
      if (next !== undefined) {
        const projected = (next - target) / ((ids.length - submitStart) / secondsToHold);
        if (projected > cfg.holdBudgetS) {
          emit({
            skipped: next,
            reason: `projected ${Math.round(projected)} s to submit and hold ${next - target} more at the rate just seen > BENCH_HOLD_BUDGET_S=${cfg.holdBudgetS}`,
          });
          break;
        }
      }
    }
  } finally {
    redis.disconnect();
    // Thousands of sleeping runs: no drain, no hand-back; the fleet is thrown away.
    await fleet.kill();
  }
}
