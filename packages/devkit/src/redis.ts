// A real redis-server on a port of our own, without persistence: a restart comes back empty,
// which is exactly the failure fault tests want to provoke.
import fs from "node:fs";
import { findExecutable } from "./child.ts";
import { type ServerHandle, startDaemon } from "./daemon.ts";
import { makeTempDir } from "./orphan-guard.ts";
import { freePort } from "./ports.ts";

export interface RedisServer extends ServerHandle {
  /** The working directory (--dir); same as dataDir. */
  readonly dir: string;
}

export interface StartRedisOptions {
  /** Default: a free port. */
  port?: number;
  /** Working directory (--dir). Default: a fresh temporary directory, removed when this process exits. */
  dir?: string;
  /** Append the server's output to this file too. */
  logFile?: string;
  /** Require this password (--requirepass); the handle's url then carries it (redis://:pass@…). */
  password?: string;
}

/** Starts `redis-server` on 127.0.0.1 with no RDB/AOF and resolves once it accepts connections. */
export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisServer> {
  const command = findExecutable("redis-server", ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]);
  if (!command) throw new Error("redis-server not found on PATH (run ./switchyard bootstrap)");
  const port = opts.port ?? (await freePort());
  const dir = opts.dir ?? makeTempDir("sy-redis-");
  fs.mkdirSync(dir, { recursive: true });
  const handle = await startDaemon({
    name: "redis-server",
    command,
    // biome-ignore format: one flag and its value per line reads best
    args: [
      "--port", String(port),
      "--bind", "127.0.0.1",
      "--save", "",
      "--appendonly", "no",
      "--dir", dir,
      "--daemonize", "no",
      "--logfile", "",
      ...(opts.password ? ["--requirepass", opts.password] : []),
    ],
    port,
    url: opts.password ? `redis://:${encodeURIComponent(opts.password)}@127.0.0.1:${port}` : `redis://127.0.0.1:${port}`,
    dataDir: dir,
    readyLine: /Ready to accept connections/,
    ...(opts.logFile ? { logFile: opts.logFile } : {}),
  });
  return Object.defineProperty(handle, "dir", { value: dir, enumerable: true }) as RedisServer;
}
