// Before/after of the gateway's CPU per request on a shared machine: two fleets side by side,
// A running the services of another checkout (AB_BASE, e.g. a `git worktree` of the base
// commit with node_modules copied in) and B this one's, measured in turns (A then B, then B
// then A) so that both see the same machine load. Per phase and round it prints the gateway's
// CPU µs (from /proc) per unit: `submit` (POST /v1/tasks), `task` (POST, then the SSE stream
// to its end) or `health` (GET /healthz: the HTTP floor).
//   AB_BASE=/path/to/base node bench/src/gateway-ab.ts
// AB_PHASES (submit,task), AB_N requests per phase (1500), AB_C concurrent clients (32),
// AB_ROUNDS (6), AB_PROFILE=<dir>: --cpu-prof of every service into <dir>/A and <dir>/B;
// BENCH_API_KEY: the fleets require that key and the client sends it (auth on the hot path).
import { type Fleet, startFleet } from "@switchyard/devkit";
import { followSse, requestJson } from "./http-client.ts";
import { cpuSeconds } from "./proc.ts";

const N = Number(process.env.AB_N ?? 1500);
const C = Number(process.env.AB_C ?? 32);
const ROUNDS = Number(process.env.AB_ROUNDS ?? 6);
const PHASES = (process.env.AB_PHASES ?? "submit,task").split(",").map((s) => s.trim());
const base = process.env.AB_BASE;
if (!base) throw new Error("AB_BASE=<a checkout of the base, with node_modules>");

async function start(side: "A" | "B", repoRoot?: string): Promise<Fleet> {
  const profile = process.env.AB_PROFILE;
  const fleet = await startFleet({
    ...(repoRoot ? { repoRoot, agentsDir: `${repoRoot}/agents` } : {}),
    env: {
      LOG_LEVEL: "info",
      ...(profile ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profile}/${side}` } : {}),
      ...(process.env.BENCH_API_KEY ? { API_KEYS: `${process.env.BENCH_API_KEY}:bench` } : {}),
    },
    runnerEnv: { DRAIN_TIMEOUT_MS: "0", RUNNER_SLOTS: "256" },
  });
  const res = await requestJson(fleet.gatewayUrl, "PUT", "/v1/agents/noop", { model: "scripted", script: [{ text: "ok" }] });
  if (res.status !== 200) throw new Error(`PUT /v1/agents/noop: ${res.status} ${JSON.stringify(res.body)}`);
  return fleet;
}

async function pool(n: number, c: number, fn: () => Promise<void>): Promise<void> {
  let left = n;
  await Promise.all(
    Array.from({ length: c }, async () => {
      while (left-- > 0) await fn();
    }),
  );
}

async function submit(g: string): Promise<string> {
  const r = await requestJson(g, "POST", "/v1/tasks", { agent: "noop", input: "hi" });
  if (r.status !== 202) throw new Error(`POST /v1/tasks: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.id as string;
}

const PHASE: Record<string, (g: string) => Promise<void>> = {
  submit: async (g) => void (await submit(g)),
  task: async (g) => void (await followSse(g, `/v1/tasks/${await submit(g)}/events`)),
  health: async (g) => {
    const r = await requestJson(g, "GET", "/healthz");
    if (r.status !== 200) throw new Error(`GET /healthz: ${r.status}`);
  },
};
for (const p of PHASES) if (!PHASE[p]) throw new Error(`AB_PHASES: unknown phase '${p}' (${Object.keys(PHASE).join(", ")})`);

/** Gateway CPU µs per unit over `n` units. */
async function measure(fleet: Fleet, phase: string): Promise<number> {
  const pid = fleet.services.gateway.pid;
  const fn = PHASE[phase] as (g: string) => Promise<void>;
  const before = cpuSeconds(pid);
  await pool(N, C, () => fn(fleet.gatewayUrl));
  return ((cpuSeconds(pid) - before) * 1e6) / N;
}

const fleets = { A: await start("A", base), B: await start("B") };
const results: Record<string, { A: number[]; B: number[] }> = Object.fromEntries(PHASES.map((p) => [p, { A: [], B: [] }]));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
try {
  for (const f of Object.values(fleets)) await pool(300, C, () => (PHASE.task as (g: string) => Promise<void>)(f.gatewayUrl)); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? (["A", "B"] as const) : (["B", "A"] as const);
    const line: Record<string, number> = { round };
    for (const phase of PHASES) {
      for (const side of order) {
        const us = await measure(fleets[side], phase);
        results[phase]?.[side].push(us);
        line[`${phase}.${side}`] = Math.round(us);
        if (phase === "submit") await new Promise((r) => setTimeout(r, 1500)); // the submitted tasks finish
      }
    }
    console.log(JSON.stringify(line));
  }
  for (const [phase, r] of Object.entries(results)) {
    console.log(`gateway CPU µs per ${phase}: A ${median(r.A).toFixed(0)}, B ${median(r.B).toFixed(0)} (medians of ${ROUNDS} rounds of ${N}, ${C} clients)`);
  }
} finally {
  await Promise.all(Object.values(fleets).map((f) => f.stop()));
}
