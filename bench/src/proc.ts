// What the OS says about processes: CPU time and resident memory from /proc, the load
// average, and the bench's own helper processes (baseline servers and workers), which print
// one JSON "ready" line and exit when our stdin closes, so a killed bench leaves no orphans.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";

const CLK_TCK = readClockTicks();

function readClockTicks(): number {
  try {
    const n = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

/** User + system CPU seconds a process has used so far (all its threads), or NaN when it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which may itself contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return (utime + stime) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

/** Resident set size in bytes, or NaN when the process is gone. */
export function rssBytes(pid: number): number {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** The 1-minute load average, rounded for the report. */
export function load1(): number {
  return Math.round((os.loadavg()[0] ?? 0) * 100) / 100;
}

/** CPU seconds of a named set of processes, and of this (client) process. */
export class CpuMeter {
  readonly #pids: Record<string, number>;
  #start: Record<string, number> = {};
  #clientStart = process.cpuUsage();

  constructor(pids: Record<string, number>) {
    this.#pids = pids;
  }

  start(): void {
    this.#start = this.#read();
    this.#clientStart = process.cpuUsage();
  }

  /** Seconds used since start(), per process, plus `total` (servers) and `client`. */
  stop(): { perProcess: Record<string, number>; total: number; client: number } {
    const end = this.#read();
    const perProcess: Record<string, number> = {};
    let total = 0;
    for (const [name, s] of Object.entries(end)) {
      const d = s - (this.#start[name] ?? s);
      if (Number.isFinite(d)) {
        perProcess[name] = round(d, 3);
        total += d;
      }
    }
    const c = process.cpuUsage(this.#clientStart);
    return { perProcess, total: round(total, 3), client: round((c.user + c.system) / 1e6, 3) };
  }

  #read(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, pid] of Object.entries(this.#pids)) out[name] = cpuSeconds(pid);
    return out;
  }
}

export const round = (n: number, digits = 1): number => {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
};

const children = new Set<ChildProcess>();

/** Kills every helper process still running (on the way out, whatever happened). */
export function killAllChildren(): void {
  for (const c of children) {
    try {
      c.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  children.clear();
}

export interface HelperProcess {
  readonly name: string;
  readonly pid: number;
  /** The fields of its {"ready":true,…} line. */
  readonly info: Record<string, unknown>;
  /** The next parsed JSON line matching `pred` (from now on). */
  nextJson(pred: (v: Record<string, unknown>) => boolean, timeoutMs: number): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

const SRC = path.dirname(new URL(import.meta.url).pathname);

/** Starts `node bench/src/<script>` with `env`; resolves once it prints {"ready":true,…}. */
export async function startHelper(name: string, script: string, env: Record<string, string>, extraNodeArgs: string[] = []): Promise<HelperProcess> {
  const child = spawn(process.execPath, [...extraNodeArgs, path.join(SRC, script)], {
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  children.add(child);
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      children.delete(child);
      resolve();
    }),
  );
  const listeners = new Set<(v: Record<string, unknown>) => void>();
  const tail: string[] = [];
  const onLine = (line: string) => {
    tail.push(line);
    if (tail.length > 30) tail.shift();
    if (!line.startsWith("{")) return;
    try {
      const v = JSON.parse(line) as Record<string, unknown>;
      for (const l of [...listeners]) l(v);
    } catch {
      // not a JSON line
    }
  };
  readline.createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", onLine);
  readline.createInterface({ input: child.stderr as NodeJS.ReadableStream }).on("line", onLine);
  child.stdin?.on("error", () => undefined);

  const nextJson = (pred: (v: Record<string, unknown>) => boolean, timeoutMs: number) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => {
        listeners.delete(l);
        reject(new Error(`${name}: no expected line within ${timeoutMs} ms; last output:\n${tail.join("\n")}`));
      }, timeoutMs);
      const l = (v: Record<string, unknown>) => {
        if (!pred(v)) return;
        clearTimeout(timer);
        listeners.delete(l);
        resolve(v);
      };
      listeners.add(l);
      void exited.then(() => {
        if (!listeners.has(l)) return;
        clearTimeout(timer);
        listeners.delete(l);
        reject(new Error(`${name}: exited; last output:\n${tail.join("\n")}`));
      });
    });

  const info = await nextJson((v) => v.ready === true, 20_000);
  return {
    name,
    pid: child.pid ?? -1,
    info,
    nextJson,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** For helper processes: exit when the bench (our parent) closes our stdin or dies. */
export function exitWithParent(onExit: () => Promise<void> | void = () => undefined): void {
  const quit = () => {
    void Promise.resolve(onExit()).finally(() => process.exit(0));
  };
  process.stdin.on("end", quit);
  process.stdin.on("error", quit);
  process.stdin.resume();
  process.on("SIGTERM", quit);
  process.on("SIGINT", quit);
}
