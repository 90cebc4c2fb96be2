// The Switchyard side: the real fleet (NATS, Redis, spawner, kernel, runner nodes, gateway as
// separate processes, through @switchyard/devkit) and the agents the scenarios run.
import { type Fleet, type ServiceProcess, type StartFleetOptions, startFleet } from "@switchyard/devkit";
import { requestJson } from "./http-client.ts";

export const AGENTS = {
  /** The no-op agent: one round, answers "ok". */
  noop: { model: "scripted", script: [{ text: "ok" }] },
} as const;

export async function startSwitchyard(opts: StartFleetOptions & { logLevel: string }): Promise<Fleet> {
  const { logLevel, ...rest } = opts;
  const repoRoot = process.env.BENCH_REPO_ROOT;
  const logDir = process.env.BENCH_LOG_DIR;
  return startFleet({
    ...(repoRoot ? { repoRoot, agentsDir: `${repoRoot}/agents` } : {}),
    ...(logDir ? { logDir } : {}),
    ...rest,
    env: { LOG_LEVEL: logLevel, ...(process.env.BENCH_API_KEY ? { API_KEYS: `${process.env.BENCH_API_KEY}:bench` } : {}), ...rest.env },
    // Stopping must not wait out sleeping benchmark runs.
    runnerEnv: { DRAIN_TIMEOUT_MS: "0", ...rest.runnerEnv },
  });
}

export async function defineAgent(fleet: Fleet, name: string, def: unknown): Promise<void> {
  const res = await requestJson(fleet.gatewayUrl, "PUT", `/v1/agents/${name}`, def);
  if (res.status !== 200) throw new Error(`PUT /v1/agents/${name}: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
}

/** Every server-side process of the fleet by name. */
export function fleetPids(fleet: Fleet): Record<string, number> {
  const pids: Record<string, number> = {
    gateway: fleet.services.gateway.pid,
    kernel: fleet.services.kernel.pid,
    spawner: fleet.services.spawner.pid,
  };
  for (const r of fleet.services.runners) pids[r.label] = r.pid;
  if (fleet.nats) pids["nats-server"] = fleet.nats.pid;
  if (fleet.redis) pids["redis-server"] = fleet.redis.pid;
  return pids;
}

/** One value of a Prometheus text exposition (the first sample of `name`). */
export async function readMetric(service: ServiceProcess, name: string): Promise<number> {
  const port = service.readyLine.metrics_port;
  if (typeof port !== "number") throw new Error(`${service.label} serves no metrics (start it with METRICS_PORT=0)`);
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await res.text();
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, "m").exec(text);
  if (!m) throw new Error(`${service.label}: no metric ${name}`);
  return Number(m[1]);
}
