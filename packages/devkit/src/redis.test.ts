// redis-server as the harness starts it: answers PING, and a restart comes back (empty).
import net from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "./redis.ts";

/** Sends raw RESP commands and resolves with the reply once it contains `until`. */
function redisSay(port: number, command: string, until: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: "127.0.0.1" }, () => socket.write(command));
    let reply = "";
    socket.setTimeout(3000, () => socket.destroy(new Error(`no reply matching ${until} within 3 s: ${reply}`)));
    socket.on("error", reject);
    socket.on("data", (chunk) => {
      reply += chunk.toString("utf8");
      if (until.test(reply)) {
        socket.destroy();
        resolve(reply);
      }
    });
  });
}

const resp = (...args: string[]) => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`;

describe("startRedis", () => {
  const servers: RedisServer[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
  });

  it("answers PING on its port", async () => {
    const redis = await startRedis();
    servers.push(redis);
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    expect(redis.dir).toBe(redis.dataDir);
    expect(await redisSay(redis.port, "*1\r\n$4\r\nPING\r\n", /\r\n/)).toBe("+PONG\r\n");
  });

  it("comes back empty after a restart, and after kill -9", async () => {
    const redis = await startRedis();
    servers.push(redis);
    expect(await redisSay(redis.port, resp("SET", "k", "v"), /\r\n/)).toBe("+OK\r\n");

    await redis.restart();
    expect(await redisSay(redis.port, resp("GET", "k"), /\r\n/)).toBe("$-1\r\n"); // no persistence

    const pid = redis.pid;
    await redis.kill();
    await expect(redisSay(redis.port, resp("PING"), /\r\n/)).rejects.toThrow();
    await redis.restart();
    expect(redis.pid).not.toBe(pid);
    expect(await redisSay(redis.port, resp("PING"), /\r\n/)).toBe("+PONG\r\n");
  });
});
