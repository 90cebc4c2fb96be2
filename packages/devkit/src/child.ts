// One supervised child process: its output captured line by line, its exit observable, and a
// stop that escalates from SIGTERM to SIGKILL. Servers and services are built on it.
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { guardPid, releasePid } from "./orphan-guard.ts";

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The last `max` output lines of a process (across restarts), optionally appended to a file. */
export class LineLog {
  readonly #max: number;
  readonly #logFile: string | undefined;
  #fd: number | undefined;
  #lines: string[] = [];
  readonly #listeners = new Set<(line: string) => void>();

  constructor(max: number, logFile?: string) {
    this.#max = max;
    this.#logFile = logFile;
  }

  push(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length > this.#max * 1.5) this.#lines = this.#lines.slice(-this.#max);
    this.#appendToFile(line);
    for (const listener of this.#listeners) listener(line);
  }

  lines(): string[] {
    return this.#lines.slice(-this.#max);
  }

  tail(n: number): string[] {
    return this.#lines.slice(-n);
  }

  /** Calls `listener` for every line pushed from now on; returns the unsubscribe function. */
  onLine(listener: (line: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    if (this.#fd !== undefined) fs.closeSync(this.#fd);
    this.#fd = undefined;
  }

  // Synchronous appends: a line logged just before a crash is in the file, in order.
  #appendToFile(line: string): void {
    if (!this.#logFile) return;
    try {
      if (this.#fd === undefined) {
        fs.mkdirSync(path.dirname(this.#logFile), { recursive: true });
        this.#fd = fs.openSync(this.#logFile, "a");
      }
      fs.writeSync(this.#fd, `${line}\n`);
    } catch {
      // A log file we cannot write must not take the harness down; the ring still has the line.
    }
  }
}

export interface SupervisedChild {
  readonly process: ChildProcess;
  readonly pid: number;
  /** Settles once the process has exited and its output has been read to the end. */
  readonly exited: Promise<ExitInfo>;
  isRunning(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  terminate(graceMs: number): Promise<ExitInfo>;
  /** Sends `signal` and waits for the exit. */
  kill(signal: NodeJS.Signals): Promise<ExitInfo>;
  /** Sends `signal` without waiting (SIGSTOP, SIGCONT, SIGUSR1…); false if already gone. */
  signal(signal: NodeJS.Signals): boolean;
}

export interface SpawnOptions {
  args: string[];
  log: LineLog;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** "pipe" keeps a pipe open to the child: it sees EOF when we die. */
  stdin?: "pipe" | "ignore";
}

export function spawnSupervised(command: string, opts: SpawnOptions): SupervisedChild {
  const child = spawn(command, opts.args, {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    stdio: [opts.stdin ?? "ignore", "pipe", "pipe"],
    // Own process group: a Ctrl-C in the terminal reaches only the harness, which then stops
    // children in order (gateway first, NATS last) instead of all of them at once.
    detached: true,
  });
  let running = true;
  const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));
  const exited = new Promise<ExitInfo>((resolve) => {
    const streamsDone = [child.stdout, child.stderr].map(
      (stream) =>
        new Promise<void>((done) => {
          if (!stream) return done();
          const lines = readline.createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
          lines.on("line", (line) => opts.log.push(line));
          lines.once("close", () => done());
        }),
    );
    const finish = (info: ExitInfo) => {
      running = false;
      if (child.pid !== undefined) releasePid(child.pid);
      child.stdin?.destroy();
      // A grandchild holding our pipes open must not stall the exit forever.
      const drained = Promise.all(streamsDone);
      const bounded = new Promise((r) => setTimeout(r, 1000).unref());
      void Promise.race([drained, bounded]).then(() => resolve(info));
    };
    child.once("exit", (code, signal) => finish({ code, signal }));
    void spawnError.then((err) => {
      opts.log.push(`[devkit] could not start ${command}: ${err.message}`);
      if (running) finish({ code: null, signal: null });
    });
  });
  child.stdin?.on("error", () => {}); // EPIPE when the child is gone: not our problem
  if (child.pid !== undefined) guardPid(child.pid);

  const signal = (sig: NodeJS.Signals): boolean => {
    if (!running) return false;
    try {
      return child.kill(sig);
    } catch {
      return false;
    }
  };
  const terminate = async (graceMs: number): Promise<ExitInfo> => {
    if (!running) return exited;
    signal("SIGTERM");
    signal("SIGCONT"); // a SIGSTOPped process only acts on SIGTERM once continued
    const timer = setTimeout(() => signal("SIGKILL"), graceMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };
  const kill = async (sig: NodeJS.Signals): Promise<ExitInfo> => {
    signal(sig);
    return exited;
  };
  return {
    process: child,
    pid: child.pid ?? -1,
    exited,
    isRunning: () => running,
    terminate,
    kill,
    signal,
  };
}

/** The absolute path of `name` on PATH, else the first existing fallback, else undefined. */
export function findExecutable(name: string, fallbacks: string[] = []): string | undefined {
  const dirs = (process.env.PATH ?? "").split(path.delimiter).filter(Boolean);
  for (const candidate of [...dirs.map((dir) => path.join(dir, name)), ...fallbacks]) {
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
