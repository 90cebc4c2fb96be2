// Starts an MCP stdio server so that it never outlives its runner (README › Give an agent tools
// with MCP). The runner spawns this guard (`node mcp-stdio-guard.mjs <command> [args…]`); the
// guard starts the server in a process group of its own, sharing its stdin/stdout (the MCP
// channel). It stops the whole group (SIGTERM, SIGKILL after 1 s) when it is told to stop, and
// when its parent changes: the runner died, even by SIGKILL. It exits with the server.
import { spawn } from "node:child_process";

const [command, ...args] = process.argv.slice(2);
if (!command) {
  process.stderr.write("usage: mcp-stdio-guard.mjs <command> [args...]\n");
  process.exit(2);
}
const parent = process.ppid;
const child = spawn(command, args, { stdio: "inherit", detached: true });
const group = (sig) => {
  try {
    process.kill(-child.pid, sig);
  } catch {}
};
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  group("SIGTERM");
  setTimeout(() => {
    group("SIGKILL");
    process.exit(0);
  }, 1000).unref();
};
for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"]) process.on(sig, stop);
const watch = setInterval(() => {
  if (process.ppid !== parent) stop();
}, 200);
child.on("error", (err) => {
  process.stderr.write(`mcp-stdio-guard: cannot start ${command}: ${err.message}\n`);
  process.exit(127);
});
child.on("exit", (code, signal) => {
  clearInterval(watch);
  group("SIGKILL"); // whatever it started and left behind
  process.exit(code ?? (signal ? 1 : 0));
});
