// (5) Recovery: a runner node holding a task is killed (SIGKILL); measured is the time until
// the client's SSE stream shows the task `running` again (attempt 2, granted to the other
// node). Run with the default liveness settings and with tightened ones.
import type { Fleet } from "@switchyard/devkit";
import type { Config } from "../config.ts";
import { followSse, requestJson } from "../http-client.ts";
import { load1, round } from "../proc.ts";
import { median } from "../stats.ts";
import { defineAgent, startSwitchyard } from "../switchyard.ts";

export interface RecoverySettings {
  name: string;
  kernelEnv: Record<string, string>;
  runnerEnv: Record<string, string>;
}

export const DEFAULT_LIVENESS: RecoverySettings = {
  name: "default",
  kernelEnv: {},
  runnerEnv: {},
};
export const TIGHT_LIVENESS: RecoverySettings = {
  name: "tight",
  kernelEnv: { LEASE_GRACE_MS: "250", REAPER_INTERVAL_MS: "100" },
  runnerEnv: { LEASE_TTL_MS: "1000", HEARTBEAT_MS: "250", NODE_TTL_MS: "1500" },
};

export interface RecoveryResult {
  settings: string;
  env: Record<string, string>;
  trials: number;
  recovered: number;
  seconds: number[];
  median_s: number;
  /** On the other node every time. */
  moved: boolean;
  load1: number;
}

export async function recovery(cfg: Config, settings: RecoverySettings, trials: number): Promise<RecoveryResult> {
  // The kernel's variables reach the whole fleet (the others ignore them); the runners' only runners.
  const fleet = await startSwitchyard({ logLevel: cfg.logLevel, runnerNodes: 2, env: settings.kernelEnv, runnerEnv: settings.runnerEnv });
  const seconds: number[] = [];
  let moved = true;
  try {
    await defineAgent(fleet, "bench-sleepy", {
      model: "scripted",
      script: [{ sleep_ms: 600_000 }, { text: "done" }],
      retry: { max_attempts: 20, initial_backoff_ms: 0, max_backoff_ms: 0 },
    });
    for (let i = 0; i < trials; i++) {
      const r = await oneTrial(fleet);
      if (r) {
        seconds.push(r.seconds);
        moved &&= r.moved;
      }
      await fleet.addRunner(); // back to two live nodes
    }
  } finally {
    await fleet.stop();
  }
  return {
    settings: settings.name,
    env: { ...settings.kernelEnv, ...settings.runnerEnv },
    trials,
    recovered: seconds.length,
    seconds: seconds.map((s) => round(s, 3)),
    median_s: round(median(seconds), 3),
    moved,
    load1: load1(),
  };
}

async function oneTrial(fleet: Fleet): Promise<{ seconds: number; moved: boolean } | null> {
  const res = await requestJson(fleet.gatewayUrl, "POST", "/v1/tasks", { agent: "bench-sleepy", input: "x" });
  if (res.status !== 202) throw new Error(`recovery submit: ${res.status}`);
  const id = String(res.body.id);
  const abort = new AbortController();
  let onRunning: (attempt: number) => void = () => undefined;
  const follow = followSse(fleet.gatewayUrl, `/v1/tasks/${id}/events`, {
    signal: abort.signal,
    onEvent: (f) => {
      if (f.type !== "status") return;
      const ev = JSON.parse(f.data) as { data: { status: string; attempt: number } };
      if (ev.data.status === "running") onRunning(ev.data.attempt);
    },
  });
  const runningAttempt = (attempt: number, timeoutMs: number) =>
    new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), timeoutMs);
      onRunning = (a) => {
        if (a >= attempt) {
          clearTimeout(timer);
          resolve(performance.now());
        }
      };
    });
  try {
    if ((await runningAttempt(1, 15_000)) === null) throw new Error("the task never started");
    const nodeId = await liveNode(fleet, id, 1);
    const victim = fleet.services.runners.find((r) => r.label === nodeId && r.isRunning());
    if (!victim) throw new Error(`no running runner ${nodeId}`);
    const again = runningAttempt(2, 30_000);
    const killedAt = performance.now();
    victim.signal("SIGKILL");
    const at = await again;
    if (at === null) {
      console.error(`[bench] recovery: task ${id} was not running again within 30 s`);
      return null;
    }
    const nodeNow = await liveNode(fleet, id, 2);
    await requestJson(fleet.gatewayUrl, "POST", `/v1/tasks/${id}/cancel`, {});
    return { seconds: (at - killedAt) / 1000, moved: nodeNow !== nodeId };
  } finally {
    abort.abort();
    await follow.catch(() => undefined);
  }
}

/** The node running `attempt` of the task, from the live fields of GET /v1/tasks/:id (the runner's replay cache). */
async function liveNode(fleet: Fleet, id: string, attempt: number): Promise<string | undefined> {
  for (let i = 0; i < 100; i++) {
    const task = await requestJson(fleet.gatewayUrl, "GET", `/v1/tasks/${id}`);
    const live = task.body.live as { node_id?: string; run_id?: string } | undefined;
    if (task.body.attempt === attempt && live?.node_id && live.run_id === task.body.run_id) return live.node_id;
    await new Promise((r) => setTimeout(r, 20));
  }
  return undefined;
}
