// The three HTTP sides driven by the same client: the floor, fastify + BullMQ, and Switchyard.
// Each start returns the side (URL, agent, server pids) and a stop.
import path from "node:path";
import { type Fleet, startRedis } from "@switchyard/devkit";
import type { Config } from "./config.ts";
import type { HttpSide } from "./load.ts";
import { startMonitoredNats } from "./nats-monitored.ts";
import { startHelper } from "./proc.ts";
import { AGENTS, defineAgent, fleetPids, startSwitchyard } from "./switchyard.ts";

export interface StartedSide {
  side: HttpSide;
  fleet?: Fleet;
  stop(): Promise<void>;
}

export async function startFloor(): Promise<StartedSide> {
  const server = await startHelper("floor", "baselines/floor-server.ts", {});
  return {
    side: { name: "floor", baseUrl: String(server.info.url), agent: "noop", pids: { floor: server.pid } },
    stop: () => server.stop(),
  };
}

export async function startBullmqService(cfg: Config): Promise<StartedSide> {
  const redis = await startRedis();
  const env = { REDIS_URL: redis.url, QUEUE: "tasks", WORKER_CONCURRENCY: String(cfg.bullmqConcurrency) };
  const [api, worker] = await Promise.all([
    startHelper("bullmq-api", "baselines/bullmq-api.ts", env),
    startHelper("bullmq-worker", "baselines/bullmq-worker.ts", env),
  ]);
  return {
    side: { name: "fastify+bullmq", baseUrl: String(api.info.url), agent: "noop", pids: { api: api.pid, worker: worker.pid, "redis-server": redis.pid } },
    stop: async () => {
      await Promise.all([api.stop(), worker.stop()]);
      await redis.stop();
    },
  };
}

export async function startSwitchyardSide(cfg: Config, profileDir?: string): Promise<StartedSide> {
  // Our own nats-server, with its monitoring port: messages and API calls per task are counted.
  const nats = await startMonitoredNats();
  const fleet = await startSwitchyard({
    natsUrl: nats.url,
    logLevel: cfg.logLevel,
    runnerNodes: 1,
    runnerEnv: { RUNNER_SLOTS: String(cfg.runnerSlots), TEXT_CHUNK_CHARS: String(cfg.chunkChars) },
    ...(profileDir ? { env: { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${path.resolve(profileDir)}` } } : {}),
  });
  await defineAgent(fleet, "bench-noop", AGENTS.noop);
  return {
    side: {
      name: "switchyard",
      baseUrl: fleet.gatewayUrl,
      agent: "bench-noop",
      pids: { ...fleetPids(fleet), "nats-server": nats.pid },
      counters: nats.counters,
    },
    fleet,
    stop: async () => {
      await fleet.stop();
      await nats.stop();
    },
  };
}
