// `npm run bench`: measures the real fleet (separate processes, real NATS and Redis) against the
// floor and hand-built baselines driven by the same client, prints one JSON line per figure
// and a readable table at the end. Settings come from the environment (bench/src/config.ts).
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type BareResult, bareBullmq, bareJetStream, bareOrderedReaders } from "./baselines/bare.ts";
import { config as cfg } from "./config.ts";
import { type LatencyResult, openLoop, saturate, type ThroughputPoint } from "./load.ts";
import { killAllChildren, load1 } from "./proc.ts";
import { printSummaries, summarizeDir } from "./profile-summary.ts";
import { type Results, renderTable } from "./report.ts";
import { fanout } from "./scenarios/fanout.ts";
import { holdTasks } from "./scenarios/hold.ts";
import { DEFAULT_LIVENESS, recovery, TIGHT_LIVENESS } from "./scenarios/recovery.ts";
import { scale } from "./scenarios/scale.ts";
import { streamOneClient } from "./scenarios/stream.ts";
import { type StartedSide, startBullmqService, startFloor, startSwitchyardSide } from "./sides.ts";

const BENCH_DIR = path.resolve(import.meta.dirname, "..");
const stamp = new Date().toISOString().replace(/[:.]/g, "-");
fs.mkdirSync(path.join(BENCH_DIR, ".results"), { recursive: true });
const outFile = path.join(BENCH_DIR, ".results", `bench-${stamp}.jsonl`);

const results: Results = { machine: machine(), throughput: [], latency: [], hold: [], recovery: [], bare: [], scale: [] };

function emit(kind: string, value: object): void {
  const line = JSON.stringify({ bench: kind, ...value });
  console.log(line);
  fs.appendFileSync(outFile, `${line}\n`);
}
const progress = (msg: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)} load ${load1()}] ${msg}`);

function machine(): Results["machine"] {
  const version = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { encoding: "utf8" }).trim().split("\n")[0] ?? "";
    } catch {
      return "unknown";
    }
  };
  return {
    date: new Date().toISOString(),
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? "unknown",
    memory_gib: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    nats_server: version("nats-server", ["--version"]),
    redis_server: version("redis-server", ["--version"]).split(" ").slice(0, 3).join(" "),
    load_at_start: os.loadavg().map((l) => Math.round(l * 100) / 100),
    command: process.env.npm_lifecycle_event ? "npm run bench" : "node bench/src/main.ts",
    settings: Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith("BENCH_"))),
  };
}

async function withSide(start: () => Promise<StartedSide>, body: (s: StartedSide) => Promise<void>): Promise<void> {
  const s = await start();
  try {
    await body(s);
  } finally {
    await s.stop();
  }
}

async function profileRun(): Promise<void> {
  const dir = path.join(BENCH_DIR, ".profiles", stamp);
  fs.mkdirSync(dir, { recursive: true });
  progress(`profiling the Switchyard services (throughput, then stream and fan-out when selected) into ${dir}`);
  let labels: Record<number, string> = {};
  const nowUs = () => Number(process.hrtime.bigint() / 1000n);
  // One window per part: start-up (module loading), pauses and shutdown are left out.
  const windows: { name: string; fromUs: number; toUs: number }[] = [];
  const measured = async (name: string, body: () => Promise<unknown>) => {
    const fromUs = nowUs();
    await body();
    windows.push({ name, fromUs, toUs: nowUs() });
  };
  await withSide(
    () => startSwitchyardSide(cfg, dir),
    async (s) => {
      labels = Object.fromEntries(Object.entries(s.side.pids).map(([name, pid]) => [pid, name]));
      await measured("throughput", () => saturate(s.side, cfg.clients, cfg.warmupMs, cfg.measureMs, (p) => emit("throughput_profiled", p)));
      const fleet = s.fleet;
      if (!fleet) return;
      if (cfg.scenarios.has("stream")) await measured("stream", async () => emit("stream_profiled", await streamOneClient(fleet, cfg, s.side.pids)));
      if (cfg.scenarios.has("fanout")) await measured("fanout", async () => emit("fanout_profiled", await fanout(fleet, cfg, s.side.pids)));
    },
  );
  const texts: string[] = [];
  const lines: string[] = [];
  for (const w of windows) {
    const summaries = summarizeDir(dir, labels, 25, w).filter((x) => !x.process.startsWith("pid "));
    for (const x of summaries) lines.push(JSON.stringify({ window: w.name, ...x }));
    texts.push(`\n# ${w.name}${printSummaries(summaries)}`);
  }
  // .jsonl and .txt: not files the repository's linter formats.
  fs.writeFileSync(path.join(dir, "summary.jsonl"), lines.join("\n"));
  fs.writeFileSync(path.join(dir, "summary.txt"), texts.join("\n"));
  console.log(texts.join("\n"));
  progress(`profiles, summary.jsonl and summary.txt in ${dir}`);
}

async function main(): Promise<void> {
  progress(`${cfg.quick ? "quick" : "full"} run; scenarios ${[...cfg.scenarios].join(",")}; JSON lines also in ${outFile}`);
  emit("machine", results.machine);
  if (cfg.profile) return profileRun();

  const wantHttp = cfg.scenarios.has("throughput") || cfg.scenarios.has("latency");
  const wantFleetOnly = cfg.scenarios.has("stream") || cfg.scenarios.has("fanout");
  const starters: Record<string, () => Promise<StartedSide>> = {
    floor: startFloor,
    bullmq: () => startBullmqService(cfg),
    switchyard: () => startSwitchyardSide(cfg),
  };
  const sides = wantHttp ? cfg.sides : wantFleetOnly ? ["switchyard"] : [];
  for (const name of sides) {
    const start = starters[name];
    if (!start) throw new Error(`BENCH_SIDES: unknown side '${name}'`);
    progress(`starting ${name}`);
    await withSide(start, async (s) => {
      if (wantHttp) {
        const best: ThroughputPoint = await saturate(s.side, cfg.clients, cfg.warmupMs, cfg.measureMs, (p) => {
          emit("throughput", p);
          progress(`${p.side} ${p.clients} clients: ${p.tasks_per_s} tasks/s, server ${p.server_cpu_ms_per_task} ms CPU/task`);
        });
        results.throughput.push(best);
        if (cfg.scenarios.has("latency") && best.tasks_per_s > 0) {
          const runs: [number, number, string][] = [[best.tasks_per_s * cfg.latencyFraction, cfg.latencyMs, `${cfg.latencyFraction} × saturation`]];
          if (cfg.latencyLightRate > 0) runs.push([cfg.latencyLightRate, cfg.latencyLightMs, `light, ${cfg.latencyLightRate}/s`]);
          for (const [rate, ms, at] of runs) {
            const lat: LatencyResult = await openLoop(s.side, rate, 1000, ms, at);
            emit("latency", lat);
            results.latency.push(lat);
            progress(`${lat.side} at ${lat.offered_per_s}/s: completed p50 ${lat.completed_ms.p50} p99 ${lat.completed_ms.p99} ms`);
          }
        }
      }
      if (s.fleet && cfg.scenarios.has("stream")) {
        progress("streaming to one client");
        results.stream = await streamOneClient(s.fleet, cfg, s.side.pids);
        emit("stream", results.stream);
      }
      if (s.fleet && cfg.scenarios.has("fanout")) {
        progress(`${cfg.followers} followers of one task`);
        results.fanout = await fanout(s.fleet, cfg, s.side.pids);
        emit("fanout", results.fanout);
      }
    });
  }

  if (cfg.scenarios.has("hold")) {
    progress(`one runner node holding ${cfg.hold.join(" then ")} waiting tasks`);
    await holdTasks(cfg, (step) => {
      emit("hold", step);
      results.hold.push(step);
    });
  }

  if (cfg.scenarios.has("recovery")) {
    for (const [settings, trials] of [
      [DEFAULT_LIVENESS, cfg.recoveryTrials],
      [TIGHT_LIVENESS, cfg.recoveryTightTrials],
    ] as const) {
      if (trials <= 0) continue;
      progress(`recovery, ${settings.name} liveness settings, ${trials} trials`);
      const r = await recovery(cfg, settings, trials);
      emit("recovery", r);
      results.recovery.push(r);
    }
  }

  if (cfg.scenarios.has("scale")) {
    progress(`scale: slot-bound tasks through ${cfg.scaleNodes.join(", ")} runner nodes of ${cfg.scaleSlots} slots`);
    await scale(cfg, (p) => {
      emit("scale", p);
      results.scale.push(p);
      progress(`${p.runner_nodes} runner node(s): ${p.tasks_per_s} tasks/s (slot utilisation ${p.slot_utilisation}), p50 ${p.completed_ms_p50} ms`);
    });
  }

  if (cfg.scenarios.has("bare")) {
    progress("bare JetStream round trip");
    const js: BareResult = await bareJetStream({ warmup: cfg.bareWarmup, messages: cfg.bareMessages, window: cfg.bareWindow });
    emit("bare", js);
    results.bare.push(js);
    progress("ordered consumer per SSE reader");
    const readers: BareResult = await bareOrderedReaders({
      readers: Math.max(200, Math.round(cfg.bareMessages / 10)),
      eventsPerTask: 8,
      window: cfg.bareWindow,
    });
    emit("bare", readers);
    results.bare.push(readers);
    progress("bare BullMQ");
    const bq: BareResult = await bareBullmq({
      warmup: cfg.bareWarmup,
      messages: cfg.bareMessages,
      window: cfg.bareWindow,
      workerConcurrency: cfg.bullmqConcurrency,
    });
    emit("bare", bq);
    results.bare.push(bq);
  }

  console.log(renderTable(results));
  fs.writeFileSync(outFile.replace(/\.jsonl$/, ".txt"), renderTable(results));
}

const started = performance.now();
process.on("SIGINT", () => {
  killAllChildren();
  process.exit(130);
});
try {
  await main();
  progress(`done in ${Math.round((performance.now() - started) / 1000)} s`);
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  killAllChildren();
}
// Keep-alive sockets and leftover timers must not hold the process open.
process.exit();
