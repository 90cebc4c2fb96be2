// Benchmark settings, all from the environment (BENCHMARKS.md lists them). Two more are read
// where they are used (switchyard.ts): BENCH_REPO_ROOT runs the services of another checkout
// (a patched copy, to measure a change before and after) and BENCH_LOG_DIR keeps every
// process's output in <dir>/<name>.log. The
// defaults keep `npm run bench` under 5 minutes on a 2-core machine; BENCH_QUICK=1 is ~1 minute.

const quick = process.env.BENCH_QUICK === "1";

function num(name: string, full: number, fast: number = full): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return quick ? fast : full;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got '${raw}'`);
  return n;
}

function list(name: string, full: string, fast: string = full): number[] {
  const raw = process.env[name] || (quick ? fast : full);
  const out = raw
    .split(",")
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isFinite(n) && n > 0);
  if (out.length === 0) throw new Error(`${name} must be a comma-separated list of positive numbers, got '${raw}'`);
  return out;
}

export const ALL_SCENARIOS = ["throughput", "latency", "stream", "fanout", "hold", "recovery", "bare", "scale"] as const;
export type Scenario = (typeof ALL_SCENARIOS)[number];

function scenarios(): Set<Scenario> {
  const raw = process.env.BENCH_SCENARIOS;
  // `scale` starts three fleets and takes about 3 minutes: asked for by name only.
  if (!raw) return new Set(ALL_SCENARIOS.filter((s) => s !== "scale"));
  const wanted = raw.split(",").map((s) => s.trim());
  for (const w of wanted)
    if (!(ALL_SCENARIOS as readonly string[]).includes(w)) throw new Error(`BENCH_SCENARIOS: unknown scenario '${w}' (${ALL_SCENARIOS.join(", ")})`);
  return new Set(wanted as Scenario[]);
}

export const config = {
  quick,
  scenarios: scenarios(),
  /** Profile the Switchyard services (node --cpu-prof) during the throughput run, and stream and fan-out when selected; nothing else runs. */
  profile: process.env.BENCH_PROFILE === "1",
  /** LOG_LEVEL of the Switchyard services (info, the default, logs nothing per task on the happy path; readiness needs it). */
  logLevel: process.env.BENCH_LOG_LEVEL || "info",
  /** Sides of the throughput and latency runs (floor, bullmq, switchyard). */
  sides: (process.env.BENCH_SIDES || "floor,bullmq,switchyard").split(",").map((s) => s.trim()),

  // (1) throughput at saturation: closed loop, each point after a warm-up
  clients: list("BENCH_CLIENTS", "32,128,256", "128"),
  warmupMs: num("BENCH_WARMUP_MS", 1500, 1000),
  measureMs: num("BENCH_MEASURE_MS", 6000, 2500),
  runnerSlots: num("BENCH_RUNNER_SLOTS", 256),
  bullmqConcurrency: num("BENCH_BULLMQ_CONCURRENCY", 64),

  // (2) latency at a fraction of saturation: open loop
  latencyFraction: num("BENCH_LATENCY_FRACTION", 0.5),
  latencyMs: num("BENCH_LATENCY_MS", 8000, 2500),
  /** A second latency run at this fixed light rate (tasks/s; 0: none): the pipeline's own latency, without queueing. */
  latencyLightRate: num("BENCH_LATENCY_LIGHT_RATE", 10),
  latencyLightMs: num("BENCH_LATENCY_LIGHT_MS", 4000, 1500),

  // (3) streaming
  streamChars: num("BENCH_STREAM_CHARS", 160_000, 48_000),
  chunkChars: num("BENCH_CHUNK_CHARS", 16),
  followers: num("BENCH_FOLLOWERS", 1000, 1000),
  fanoutRounds: num("BENCH_FANOUT_ROUNDS", 20, 6),
  fanoutTickMs: num("BENCH_FANOUT_TICK_MS", 100),
  fanoutDelayMs: num("BENCH_FANOUT_DELAY_MS", 5000, 3000),

  // (4) tasks held by one runner node
  hold: list("BENCH_HOLD", "2000,10000", "1000"),
  holdSubmitClients: num("BENCH_HOLD_CLIENTS", 64),
  holdSampleMs: num("BENCH_HOLD_SAMPLE_MS", 4000, 2000),
  /** Skip a larger hold step when the projected submit time exceeds this. */
  holdBudgetS: num("BENCH_HOLD_BUDGET_S", 75, 20),

  // (6) horizontal scale: slot-bound tasks through 1, 2, 4 runner nodes
  scaleNodes: list("BENCH_SCALE_NODES", "1,2,4"),
  scaleSlots: num("BENCH_SCALE_SLOTS", 16, 8),
  // Long enough that the slots, not this shared machine's two cores, bound the throughput.
  scaleSleepMs: num("BENCH_SCALE_SLEEP_MS", 3000),
  scaleMeasureMs: num("BENCH_SCALE_MEASURE_MS", 12000, 6000),

  // (5) recovery after a runner is killed
  recoveryTrials: num("BENCH_RECOVERY_TRIALS", 3, 1),
  recoveryTightTrials: num("BENCH_RECOVERY_TIGHT_TRIALS", 5, 2),

  // (6) bare references
  bareMessages: num("BENCH_BARE_MESSAGES", 20_000, 5_000),
  bareWarmup: num("BENCH_BARE_WARMUP", 2_000, 1_000),
  bareWindow: num("BENCH_BARE_WINDOW", 64),
};
export type Config = typeof config;
