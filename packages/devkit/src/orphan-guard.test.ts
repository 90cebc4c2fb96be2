// A harness process that dies hard (kill -9) must not leave its servers or temp dirs behind.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { describe, expect, it } from "vitest";

const natsModule = path.join(import.meta.dirname, "nats.ts");

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat[stat.lastIndexOf(")") + 2] !== "Z"; // a zombie is dead, just not yet reaped
  } catch {
    return false;
  }
}

async function eventually(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

describe("orphan guard", () => {
  it("stops nats-server and removes its temp dir when the harness is killed with SIGKILL", {
    timeout: 15_000,
  }, async () => {
    const source = `
      import { startNats } from ${JSON.stringify(natsModule)};
      const nats = await startNats();
      console.log(JSON.stringify({ pid: nats.pid, dataDir: nats.dataDir }));
      setInterval(() => {}, 1000);
    `;
    const harness = spawn(process.execPath, ["--input-type=module", "-e", source], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const firstLine = await new Promise<string>((resolve, reject) => {
      readline.createInterface({ input: harness.stdout }).once("line", resolve);
      harness.once("exit", (code) => reject(new Error(`harness exited early (${code})`)));
    });
    const { pid, dataDir } = JSON.parse(firstLine) as { pid: number; dataDir: string };
    expect(isAlive(pid)).toBe(true);
    expect(fs.existsSync(dataDir)).toBe(true);

    harness.kill("SIGKILL");

    expect(await eventually(() => !isAlive(pid), 5000)).toBe(true);
    expect(await eventually(() => !fs.existsSync(dataDir), 5000)).toBe(true);
  });
});
