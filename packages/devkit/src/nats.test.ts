// nats-server as the harness starts it: reachable, JetStream on, survives kill -9 + restart.
import fs from "node:fs";
import net from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { type NatsServer, startNats } from "./nats.ts";

/** The first line a NATS server sends on connect: `INFO {...}`. */
function readInfo(port: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: "127.0.0.1" });
    let buf = "";
    socket.setTimeout(3000, () => socket.destroy(new Error("no INFO within 3 s")));
    socket.on("error", reject);
    socket.on("data", (chunk) => {
      buf += chunk.toString("utf8");
      const end = buf.indexOf("\r\n");
      if (end < 0) return;
      socket.destroy();
      const line = buf.slice(0, end);
      if (!line.startsWith("INFO ")) return reject(new Error(`expected INFO, got ${line}`));
      resolve(JSON.parse(line.slice(5)) as Record<string, unknown>);
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("startNats", () => {
  const servers: NatsServer[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
  });

  it("serves clients with JetStream on its port and stops", async () => {
    const nats = await startNats();
    servers.push(nats);
    expect(nats.url).toBe(`nats://127.0.0.1:${nats.port}`);
    expect(fs.statSync(nats.dataDir).isDirectory()).toBe(true);

    const info = await readInfo(nats.port);
    expect(info.port).toBe(nats.port);
    expect(info.jetstream).toBe(true);
    expect(nats.logs().some((l) => l.includes("Server is ready"))).toBe(true);

    const pid = nats.pid;
    await nats.stop();
    expect(isAlive(pid)).toBe(false);
    expect(nats.isRunning()).toBe(false);
    await expect(readInfo(nats.port)).rejects.toThrow();
  });

  it("comes back on the same port and data dir after kill -9", async () => {
    const nats = await startNats();
    servers.push(nats);
    const firstPid = nats.pid;

    await nats.kill("SIGKILL");
    expect(isAlive(firstPid)).toBe(false);
    await expect(readInfo(nats.port)).rejects.toThrow();

    await nats.restart();
    expect(nats.pid).not.toBe(firstPid);
    const info = await readInfo(nats.port);
    expect(info.port).toBe(nats.port);
    // JetStream recovered its store from the same directory.
    expect(nats.logs().filter((l) => l.includes(nats.dataDir)).length).toBeGreaterThanOrEqual(2);
  });

  it("fails with the server's own words when the port is taken", async () => {
    const first = await startNats();
    servers.push(first);
    await expect(startNats({ port: first.port })).rejects.toThrow(/nats-server on port \d+ exited before it was ready[\s\S]*address already in use/);
  });
});
