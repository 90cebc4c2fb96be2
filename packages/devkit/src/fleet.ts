// The whole Switchyard fleet on one machine: NATS and Redis (unless given), then spawner, kernel,
// runner nodes and gateway as separate processes, stopped again in reverse order.
import path from "node:path";
import { type NatsServer, startNats } from "./nats.ts";
import { freePort } from "./ports.ts";
import { type RedisServer, startRedis } from "./redis.ts";
import { type ServiceName, type ServiceProcess, startService } from "./service.ts";

export interface StartFleetOptions {
  /** Use this NATS instead of starting one. */
  natsUrl?: string;
  /** Use this Redis instead of starting one. */
  redisUrl?: string;
  /** The NATS we start requires this user and password (its url carries them). */
  natsAuth?: { user: string; pass: string };
  /** The Redis we start requires this password (its url carries it). */
  redisPassword?: string;
  /** Gateway HTTP port; default a free port. */
  port?: number;
  /** JetStream store of the NATS we start; default a temporary directory. */
  dataDir?: string;
  /** Runner nodes to start (default 1), named runner-1, runner-2… */
  runnerNodes?: number;
  /** Extra environment for runner nodes only. */
  runnerEnv?: Record<string, string>;
  /** Extra environment for every service. */
  env?: Record<string, string>;
  /** Agent definitions for the spawner (AGENTS_DIR); default <repo>/agents. */
  agentsDir?: string;
  /** When set, each process also appends its output to <logDir>/<name>.log. */
  logDir?: string;
  /** Default: the repository this package lives in. */
  repoRoot?: string;
  /** Per service, default 15 s. */
  readyTimeoutMs?: number;
}

export interface Fleet {
  /** Present when the fleet started its own server. */
  nats?: NatsServer;
  redis?: RedisServer;
  natsUrl: string;
  redisUrl: string;
  gatewayUrl: string;
  services: { spawner: ServiceProcess; kernel: ServiceProcess; gateway: ServiceProcess; runners: ServiceProcess[] };
  /** Starts one more runner node (NODE_ID runner-<n>) with runnerEnv and then `env`. */
  addRunner(env?: Record<string, string>): Promise<ServiceProcess>;
  /** Gateway, runners, kernel, spawner, then Redis and NATS. Never throws; idempotent. */
  stop(): Promise<void>;
  /** SIGKILL everything at once (a second Ctrl-C). Never throws. */
  kill(): Promise<void>;
}

const REPO_ROOT = path.resolve(import.meta.dirname, "../../..");

export async function startFleet(opts: StartFleetOptions = {}): Promise<Fleet> {
  const repoRoot = opts.repoRoot ?? REPO_ROOT;
  const logFile = (name: string) => (opts.logDir ? { logFile: path.join(opts.logDir, `${name}.log`) } : {});
  const started: { nats?: NatsServer; redis?: RedisServer; services: ServiceProcess[] } = { services: [] };

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= stopInOrder(started);
    return stopping;
  };
  const kill = async (): Promise<void> => {
    await Promise.allSettled([...started.services.map((s) => s.kill("SIGKILL")), started.redis?.kill("SIGKILL"), started.nats?.kill("SIGKILL")]);
  };

  try {
    const [nats, redis] = await allOrFirstError([
      opts.natsUrl
        ? undefined
        : startNats({ ...(opts.dataDir ? { dataDir: opts.dataDir } : {}), ...(opts.natsAuth ? { auth: opts.natsAuth } : {}), ...logFile("nats") }).then((n) => {
            started.nats = n;
            return n;
          }),
      opts.redisUrl
        ? undefined
        : startRedis({ ...logFile("redis"), ...(opts.redisPassword ? { password: opts.redisPassword } : {}) }).then((r) => {
            started.redis = r;
            return r;
          }),
    ]);
    const natsUrl = opts.natsUrl ?? nats?.url ?? "";
    const redisUrl = opts.redisUrl ?? redis?.url ?? "";
    const baseEnv = { ...opts.env, NATS_URL: natsUrl, REDIS_URL: redisUrl };

    const launch = async (name: ServiceName, env: Record<string, string>, label: string = name) => {
      const service = await startService(name, {
        env,
        repoRoot,
        label,
        ...logFile(label),
        ...(opts.readyTimeoutMs ? { readyTimeoutMs: opts.readyTimeoutMs } : {}),
      });
      started.services.push(service);
      return service;
    };

    const spawner = await launch("spawner", {
      ...baseEnv,
      AGENTS_DIR: opts.agentsDir ?? path.join(repoRoot, "agents"),
    });
    const kernel = await launch("kernel", baseEnv);

    const runners: ServiceProcess[] = [];
    let runnerCount = 0;
    const addRunner = async (env: Record<string, string> = {}): Promise<ServiceProcess> => {
      runnerCount += 1;
      const nodeId = `runner-${runnerCount}`;
      const runner = await launch("runner-pool", { ...baseEnv, ...opts.runnerEnv, NODE_ID: nodeId, ...env }, nodeId);
      runners.push(runner);
      runners.sort((a, b) => runnerNumber(a) - runnerNumber(b)); // runner-1 first, whatever started first
      return runner;
    };
    // Runner nodes are independent of each other: start them side by side.
    await allOrFirstError(Array.from({ length: opts.runnerNodes ?? 1 }, () => addRunner()));

    const port = opts.port ?? (await freePort());
    const gateway = await launch("gateway", { ...baseEnv, PORT: String(port) });

    return {
      ...(started.nats ? { nats: started.nats } : {}),
      ...(started.redis ? { redis: started.redis } : {}),
      natsUrl,
      redisUrl,
      gatewayUrl: `http://127.0.0.1:${port}`,
      services: { spawner, kernel, gateway, runners },
      addRunner,
      stop,
      kill,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

// Clients first (gateway), then the producers of work (runners hand back in-flight runs to a
// still-running kernel), then the kernel and spawner, and the servers they all need last.
async function stopInOrder(started: { nats?: NatsServer; redis?: RedisServer; services: ServiceProcess[] }) {
  const ofName = (name: ServiceName) => started.services.filter((s) => s.name === name);
  const stopAll = (services: ServiceProcess[]) => Promise.allSettled(services.map((s) => s.stop()));
  await stopAll(ofName("gateway"));
  await stopAll(ofName("runner-pool"));
  await stopAll(ofName("kernel"));
  await stopAll(ofName("spawner"));
  await Promise.allSettled([started.redis?.stop(), started.nats?.stop()]);
}

/** Like Promise.all, but waits for every promise to settle: nothing is still starting when we clean up. */
async function allOrFirstError<const T extends readonly unknown[]>(promises: T): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const results = await Promise.allSettled(promises);
  const failure = results.find((r) => r.status === "rejected");
  if (failure) throw failure.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as {
    -readonly [K in keyof T]: Awaited<T[K]>;
  };
}

const runnerNumber = (runner: ServiceProcess) => Number(runner.label.slice("runner-".length));
