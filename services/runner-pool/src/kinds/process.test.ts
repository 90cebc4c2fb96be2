import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { sweepDeadNodes } from "./process.ts";

const root = mkdtempSync(path.join(os.tmpdir(), "sy-sweep-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const silentLog = { warn: () => undefined, info: () => undefined, debug: () => undefined } as never;

/** A process group like an agent's: a detached child that would outlive its runner. */
function startOrphan(): number {
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { detached: true, stdio: "ignore" });
  child.unref();
  return child.pid as number;
}
const running = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat[stat.lastIndexOf(")") + 2] !== "Z";
  } catch {
    return false;
  }
};
const until = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return cond();
};

describe("sweepDeadNodes (the process kind's orphan sweep)", () => {
  it("kills agents recorded under a node whose owner is gone and removes their workspaces, leaving live nodes alone", async () => {
    const deadNode = path.join(root, "dead-node", "process");
    const liveNode = path.join(root, "live-node", "process");
    for (const d of [deadNode, liveNode]) mkdirSync(path.join(d, "task-a1"), { recursive: true });
    writeFileSync(path.join(root, "dead-node", "owner.pid"), "999999999"); // no such process
    writeFileSync(path.join(root, "live-node", "owner.pid"), String(process.pid));
    const orphan = startOrphan();
    const guarded = startOrphan();
    writeFileSync(path.join(deadNode, "task-a1.pid"), String(orphan));
    writeFileSync(path.join(liveNode, "task-a1.pid"), String(guarded));

    await sweepDeadNodes({ id: "me", workspaceRoot: path.join(root, "me", "process"), log: silentLog });

    expect(await until(() => !running(orphan)), "the dead node's agent is killed").toBe(true);
    expect(existsSync(path.join(deadNode, "task-a1")), "its workspace is removed").toBe(false);
    expect(existsSync(path.join(deadNode, "task-a1.pid"))).toBe(false);
    expect(running(guarded), "a live node's agent is left alone").toBe(true);
    expect(existsSync(path.join(liveNode, "task-a1"))).toBe(true);
    process.kill(-guarded, "SIGKILL");
  });
});
