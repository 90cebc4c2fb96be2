// A restartable server process (nats-server, redis-server) on a fixed port and data directory:
// start it, wait until it says it is ready and accepts TCP connections, stop/kill/restart it.
import { LineLog, type SupervisedChild, spawnSupervised } from "./child.ts";
import { waitForPort } from "./ports.ts";

/** What startNats and startRedis return. The handle survives stop/kill: restart() reuses it. */
export interface ServerHandle {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** The pid of the current (or last) process; changes on restart. */
  readonly pid: number;
  /** SIGTERM, wait for the exit, SIGKILL after 5 s. Resolves at once if not running. */
  stop(): Promise<void>;
  /** Send `signal` (default SIGKILL) and wait for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Start again on the same port and data dir (stopping first if it still runs). */
  restart(): Promise<void>;
  /** Output lines of every run of this server so far (the last 2000). */
  logs(): string[];
  isRunning(): boolean;
}

export interface DaemonSpec {
  /** For messages: "nats-server", "redis-server". */
  name: string;
  command: string;
  args: string[];
  port: number;
  url: string;
  dataDir: string;
  /** A log line matching this means the server is ready. */
  readyLine: RegExp;
  logFile?: string;
  readyTimeoutMs?: number;
}

const STOP_GRACE_MS = 5_000;

export async function startDaemon(spec: DaemonSpec): Promise<ServerHandle> {
  const log = new LineLog(2000, spec.logFile);
  let current: SupervisedChild | undefined;

  const launch = async (): Promise<void> => {
    const child = spawnSupervised(spec.command, { args: spec.args, log });
    current = child;
    try {
      await waitUntilReady(spec, child, log);
    } catch (err) {
      await child.kill("SIGKILL");
      throw err;
    }
  };
  const stop = async (): Promise<void> => {
    if (current) await current.terminate(STOP_GRACE_MS);
  };

  await launch();
  return {
    url: spec.url,
    port: spec.port,
    dataDir: spec.dataDir,
    get pid() {
      return current?.pid ?? -1;
    },
    stop,
    async kill(signal: NodeJS.Signals = "SIGKILL") {
      if (current) await current.kill(signal);
    },
    async restart() {
      await stop();
      await launch();
    },
    logs: () => log.lines(),
    isRunning: () => current?.isRunning() ?? false,
  };
}

async function waitUntilReady(spec: DaemonSpec, child: SupervisedChild, log: LineLog): Promise<void> {
  const timeoutMs = spec.readyTimeoutMs ?? 10_000;
  let unsubscribe = () => {};
  let timer: NodeJS.Timeout | undefined;
  const saidReady = new Promise<void>((resolve) => {
    unsubscribe = log.onLine((line) => {
      if (spec.readyLine.test(line)) resolve();
    });
  });
  const failed = new Promise<never>((_, reject) => {
    const fail = (why: string) => reject(new Error(`${spec.name} on port ${spec.port} ${why}; last log lines:\n${log.tail(20).join("\n") || "(none)"}`));
    void child.exited.then((exit) => fail(`exited before it was ready (code ${exit.code}, signal ${exit.signal})`));
    timer = setTimeout(() => fail(`was not ready after ${timeoutMs} ms`), timeoutMs);
  });
  failed.catch(() => {}); // it may settle after we are done waiting: not an error then
  try {
    await Promise.race([saidReady, failed]);
    // Ready in its own words; make sure the port is really ours and accepting.
    const portOpen = waitForPort(spec.port, timeoutMs).then((ok) => {
      if (!ok) throw new Error(`${spec.name} said ready but port ${spec.port} does not accept connections`);
    });
    await Promise.race([portOpen, failed]);
  } finally {
    unsubscribe();
    clearTimeout(timer);
  }
}
