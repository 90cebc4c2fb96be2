// A real nats-server with JetStream on a port of our own, for tests and the local fleet.
import fs from "node:fs";
import { findExecutable } from "./child.ts";
import { type ServerHandle, startDaemon } from "./daemon.ts";
import { makeTempDir } from "./orphan-guard.ts";
import { freePort } from "./ports.ts";

export type NatsServer = ServerHandle;

export interface StartNatsOptions {
  /** Default: a free port. */
  port?: number;
  /** JetStream store directory (-sd). Default: a fresh temporary directory, removed when this process exits. */
  dataDir?: string;
  /** Append the server's output to this file too. */
  logFile?: string;
  /** Serve nats-server's HTTP monitoring endpoints (/varz, /jsz) on this port (-m). */
  monitorPort?: number;
  /** Require this user and password (--user/--pass); the handle's url then carries them. */
  auth?: { user: string; pass: string };
}

/** Starts `nats-server -js` on 127.0.0.1 and resolves once it is ready. */
export async function startNats(opts: StartNatsOptions = {}): Promise<NatsServer> {
  const command = findExecutable("nats-server", ["/usr/sbin/nats-server", "/usr/local/bin/nats-server"]);
  if (!command) throw new Error("nats-server not found on PATH or in /usr/sbin (run ./switchyard bootstrap)");
  const port = opts.port ?? (await freePort());
  const dataDir = opts.dataDir ?? makeTempDir("sy-nats-");
  fs.mkdirSync(dataDir, { recursive: true });
  return startDaemon({
    name: "nats-server",
    command,
    args: [
      ...["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", dataDir],
      ...(opts.monitorPort ? ["-m", String(opts.monitorPort)] : []),
      ...(opts.auth ? ["--user", opts.auth.user, "--pass", opts.auth.pass] : []),
    ],
    port,
    url: opts.auth ? `nats://${encodeURIComponent(opts.auth.user)}:${encodeURIComponent(opts.auth.pass)}@127.0.0.1:${port}` : `nats://127.0.0.1:${port}`,
    dataDir,
    readyLine: /Server is ready/,
    ...(opts.logFile ? { logFile: opts.logFile } : {}),
  });
}
