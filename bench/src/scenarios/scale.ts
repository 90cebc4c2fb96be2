// Horizontal scale: slot-bound tasks (one round that waits on the `sleep` tool, so a run holds
// a slot and almost no CPU) through fleets of 1, 2 and 4 runner nodes with the same slots each,
// driven by enough closed-loop clients to keep every slot of the largest fleet busy. Throughput
// should rise with the nodes: the bound is the slots, not the kernel, gateway or NATS.
import type { Config } from "../config.ts";
import { closedLoop, type ThroughputPoint } from "../load.ts";
import { defineAgent, fleetPids, startSwitchyard } from "../switchyard.ts";

export interface ScalePoint {
  runner_nodes: number;
  slots_per_node: number;
  tool_sleep_ms: number;
  clients: number;
  tasks_per_s: number;
  /** tasks_per_s over what the slots allow (nodes × slots / task time); 1 = every slot always busy. */
  slot_utilisation: number;
  completed_ms_p50: number;
  errors: number;
  server_cpu_ms_per_task: number;
}

export async function scale(cfg: Config, onPoint: (p: ScalePoint) => void): Promise<ScalePoint[]> {
  const points: ScalePoint[] = [];
  const clients = Math.ceil(Math.max(...cfg.scaleNodes) * cfg.scaleSlots * 1.5);
  for (const nodes of cfg.scaleNodes) {
    const fleet = await startSwitchyard({
      logLevel: cfg.logLevel,
      runnerNodes: nodes,
      runnerEnv: { RUNNER_SLOTS: String(cfg.scaleSlots) },
    });
    try {
      await defineAgent(fleet, "bench-slot", {
        model: "scripted",
        tools: ["sleep"],
        script: [{ tool: { name: "sleep", args: { ms: cfg.scaleSleepMs } } }, { text: "ok" }],
      });
      const side = { name: `switchyard-${nodes}-nodes`, baseUrl: fleet.gatewayUrl, agent: "bench-slot", pids: fleetPids(fleet) };
      const p: ThroughputPoint = await closedLoop(side, clients, cfg.warmupMs + cfg.scaleSleepMs, cfg.scaleMeasureMs);
      const point: ScalePoint = {
        runner_nodes: nodes,
        slots_per_node: cfg.scaleSlots,
        tool_sleep_ms: cfg.scaleSleepMs,
        clients,
        tasks_per_s: p.tasks_per_s,
        slot_utilisation: Math.round((p.tasks_per_s / ((nodes * cfg.scaleSlots * 1000) / cfg.scaleSleepMs)) * 100) / 100,
        completed_ms_p50: p.completed_ms.p50,
        errors: p.errors,
        server_cpu_ms_per_task: p.server_cpu_ms_per_task,
      };
      points.push(point);
      onPoint(point);
    } finally {
      await fleet.stop();
    }
  }
  return points;
}
