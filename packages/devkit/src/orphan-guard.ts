// Makes sure processes the harness starts do not outlive it, however it dies (even kill -9).
// A small detached watchdog reads "+pid", "-pid" and "rm <dir>" lines on its stdin; when that
// pipe closes (our process is gone) it terminates every pid still registered and removes the
// temporary directories. Services also exit on their own when their stdin closes; the watchdog
// covers nats-server and redis-server, which cannot.
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const WATCHDOG_SOURCE = `
// @switchyard/devkit orphan guard (see packages/devkit/src/orphan-guard.ts)
process.title = "sy-devkit-orphan-guard";
const pids = new Set(); const dirs = new Set(); let buf = "";
process.on("SIGINT", () => {}); process.on("SIGHUP", () => {});
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  buf += chunk; let i;
  while ((i = buf.indexOf("\\n")) >= 0) {
    const line = buf.slice(0, i); buf = buf.slice(i + 1);
    if (line.startsWith("+")) pids.add(Number(line.slice(1)));
    else if (line.startsWith("-")) pids.delete(Number(line.slice(1)));
    else if (line.startsWith("rm ")) dirs.add(line.slice(3));
  }
});
const zombie = (pid) => {
  try { const stat = require("node:fs").readFileSync("/proc/" + pid + "/stat", "utf8"); return stat[stat.lastIndexOf(")") + 2] === "Z"; }
  catch { return false; }
};
const alive = (pid) => { try { process.kill(pid, 0); return !zombie(pid); } catch { return false; } };
const send = (pid, sig) => { try { process.kill(pid, sig); } catch {} };
process.stdin.on("end", () => {
  for (const pid of pids) { send(pid, "SIGTERM"); send(pid, "SIGCONT"); }
  const started = Date.now();
  const tick = setInterval(() => {
    const left = [...pids].filter(alive);
    if (left.length > 0 && Date.now() - started < 3000) return;
    for (const pid of left) send(pid, "SIGKILL");
    clearInterval(tick);
    setTimeout(() => {
      const fs = require("node:fs");
      for (const dir of dirs) { try { fs.rmSync(dir, { recursive: true, force: true }); } catch {} }
      process.exit(0);
    }, left.length > 0 ? 200 : 0);
  }, 50);
});
`;

let watchdog: ChildProcess | undefined;

function send(line: string): void {
  if (process.env.SY_DEVKIT_NO_WATCHDOG === "1") return;
  if (!watchdog || watchdog.exitCode !== null || watchdog.signalCode !== null) {
    watchdog = spawn(process.execPath, ["-e", WATCHDOG_SOURCE], {
      detached: true, // its own process group: a Ctrl-C to ours must not kill the guard
      stdio: ["pipe", "ignore", "ignore"],
    });
    watchdog.unref();
    // Our end of the pipe must not keep the event loop alive, and a dead guard must not crash us.
    (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    watchdog.stdin?.on("error", () => {});
  }
  watchdog.stdin?.write(`${line}\n`);
}

/** Terminate `pid` if this process dies while it still runs. */
export function guardPid(pid: number): void {
  send(`+${pid}`);
}

/** `pid` has exited: forget it (its number may be reused). */
export function releasePid(pid: number): void {
  send(`-${pid}`);
}

/** Remove `dir` (recursively) once this process has exited. */
export function removeOnExit(dir: string): void {
  send(`rm ${dir}`);
}

/** A fresh directory under the system temp dir, removed once this process has exited. */
export function makeTempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  removeOnExit(dir);
  return dir;
}
