// A nats-server with JetStream and its HTTP monitoring port, so a run can count what each task
// costs on the wire: messages and bytes in/out (/varz) and JetStream API calls (/jsz).
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { freePort, waitForPort } from "@switchyard/devkit";
import { trackChild } from "./proc.ts";

export interface MonitoredNats {
  url: string;
  pid: number;
  /** Cumulative counters: msgs_in, msgs_out, bytes_in, bytes_out, js_api. */
  counters(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

export async function startMonitoredNats(): Promise<MonitoredNats> {
  const [port, monitor] = [await freePort(), await freePort()];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sy-bench-nats-"));
  const child = spawn("nats-server", ["-js", "-a", "127.0.0.1", "-p", String(port), "-m", String(monitor), "-sd", dir], { stdio: ["ignore", "pipe", "pipe"] });
  trackChild(child);
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("nats-server was not ready within 10 s")), 10_000);
    const onLine = (line: string) => {
      if (/Server is ready/.test(line)) {
        clearTimeout(timer);
        resolve();
      }
    };
    readline.createInterface({ input: child.stderr }).on("line", onLine);
    readline.createInterface({ input: child.stdout }).on("line", onLine);
    void exited.then(() => reject(new Error("nats-server exited before it was ready")));
  });
  await ready;
  await waitForPort(port, 5000);
  const get = async (p: string) => (await (await fetch(`http://127.0.0.1:${monitor}${p}`)).json()) as Record<string, unknown>;
  return {
    url: `nats://127.0.0.1:${port}`,
    pid: child.pid ?? -1,
    async counters() {
      const [varz, jsz] = await Promise.all([get("/varz"), get("/jsz")]);
      const api = (jsz.api ?? {}) as { total?: number };
      return {
        msgs_in: Number(varz.in_msgs),
        msgs_out: Number(varz.out_msgs),
        bytes_in: Number(varz.in_bytes),
        bytes_out: Number(varz.out_bytes),
        js_api: Number(api.total ?? 0),
      };
    },
    async stop() {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
