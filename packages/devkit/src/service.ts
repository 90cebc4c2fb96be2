// One Switchyard service (gateway, kernel, spawner, runner-pool) as a separate Node process, the
// way production runs it: started from its entry file, ready when it logs {"msg":"ready"}.
import fs from "node:fs";
import path from "node:path";
import { LineLog, spawnSupervised } from "./child.ts";

export type ServiceName = "gateway" | "kernel" | "spawner" | "runner-pool";

/** A parsed pino JSON line from a service's output. */
export type LogLine = { msg?: string; level?: number; [field: string]: unknown };

export interface StartServiceOptions {
  /** Added to (and overriding) this process's environment. */
  env: Record<string, string>;
  /** Default: the repository this package lives in. */
  repoRoot?: string;
  /** Append the service's output to this file too. */
  logFile?: string;
  /** Default 15 s. */
  readyTimeoutMs?: number;
  /** Name in messages, e.g. "runner-2"; default the service name. */
  label?: string;
}

export interface WaitForLogOptions {
  /** Also match lines logged before the call (default true: no race with what just happened). */
  includePast?: boolean;
}

export interface ServiceProcess {
  readonly name: ServiceName;
  readonly label: string;
  readonly pid: number;
  /** The parsed {"msg":"ready"} line (the gateway's has `url`). */
  readonly readyLine: LogLine;
  /** Settles with the exit code (null when ended by a signal). */
  readonly exited: Promise<number | null>;
  /** SIGTERM, wait, SIGKILL after 10 s; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** Send `signal` (default SIGKILL) and wait for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Send `signal` without waiting (SIGSTOP, SIGCONT…). */
  signal(signal: NodeJS.Signals): void;
  isRunning(): boolean;
  /** The last 2000 raw output lines (stdout and stderr). */
  logs(): string[];
  /** The first parsed JSON line matching `pred`; rejects after `timeoutMs` (default 10 s) or when the process exits. */
  waitForLog(pred: (line: LogLine) => boolean, timeoutMs?: number, opts?: WaitForLogOptions): Promise<LogLine>;
}

const STOP_GRACE_MS = 10_000;
const DEFAULT_REPO_ROOT = path.resolve(import.meta.dirname, "../../..");

export async function startService(name: ServiceName, opts: StartServiceOptions): Promise<ServiceProcess> {
  const repoRoot = opts.repoRoot ?? DEFAULT_REPO_ROOT;
  const label = opts.label ?? name;
  const entry = path.join(repoRoot, "services", name, "src", "index.ts");
  if (!fs.existsSync(entry)) throw new Error(`${label}: entry file ${entry} does not exist`);

  const log = new LineLog(2000, opts.logFile);
  const child = spawnSupervised(process.execPath, {
    args: [entry],
    cwd: repoRoot,
    // JSON logs unless the caller insists: readiness and waitForLog read them. Metrics on a
    // free port (announced as metrics_port in the ready line): services share this host.
    env: { ...process.env, LOG_FORMAT: "json", METRICS_PORT: "0", ...opts.env, SY_EXIT_ON_STDIN_CLOSE: "1" },
    log,
    stdin: "pipe", // services exit when it closes: a killed harness leaves no orphans
  });
  const exited = child.exited.then((exit) => {
    log.close();
    return exit.code;
  });

  const waitForLog = (pred: (line: LogLine) => boolean, timeoutMs = 10_000, waitOpts: WaitForLogOptions = {}): Promise<LogLine> => {
    const matches = (raw: string): LogLine | undefined => {
      const line = parseLogLine(raw);
      if (!line) return undefined;
      try {
        return pred(line) ? line : undefined;
      } catch {
        return undefined; // a predicate reading a field the line lacks simply does not match
      }
    };
    if (waitOpts.includePast ?? true) {
      for (const raw of log.lines()) {
        const hit = matches(raw);
        if (hit) return Promise.resolve(hit);
      }
    }
    return new Promise<LogLine>((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        unsubscribe();
        clearTimeout(timer);
        fn();
      };
      const unsubscribe = log.onLine((raw) => {
        const hit = matches(raw);
        if (hit) settle(() => resolve(hit));
      });
      const timer = setTimeout(
        () => settle(() => reject(new Error(`${label}: no matching log line within ${timeoutMs} ms; last lines:\n${tail(log, 10)}`))),
        timeoutMs,
      );
      void exited.then((code) => settle(() => reject(new Error(`${label}: exited (code ${code}) before a matching log line; last lines:\n${tail(log, 10)}`))));
    });
  };

  const readyTimeoutMs = opts.readyTimeoutMs ?? 15_000;
  let readyLine: LogLine;
  try {
    readyLine = await waitForLog((line) => line.msg === "ready", readyTimeoutMs);
  } catch {
    const exit = child.isRunning() ? undefined : await child.exited;
    await child.kill("SIGKILL");
    const why =
      exit === undefined
        ? `was not ready after ${readyTimeoutMs} ms`
        : `exited (${exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`}) before it was ready`;
    throw new Error(`${label} ${why}; last log lines:\n${tail(log, 30)}`);
  }

  return {
    name,
    label,
    pid: child.pid,
    readyLine,
    exited,
    async stop() {
      await child.terminate(STOP_GRACE_MS);
      return exited;
    },
    async kill(signal: NodeJS.Signals = "SIGKILL") {
      await child.kill(signal);
    },
    signal(signal: NodeJS.Signals) {
      child.signal(signal);
    },
    isRunning: () => child.isRunning(),
    logs: () => log.lines(),
    waitForLog,
  };
}

function parseLogLine(raw: string): LogLine | undefined {
  if (!raw.startsWith("{")) return undefined;
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as LogLine) : undefined;
  } catch {
    return undefined;
  }
}

function tail(log: LineLog, n: number): string {
  return log.tail(n).join("\n") || "(no output)";
}
