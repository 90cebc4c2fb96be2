#!/usr/bin/env node
// An example agent for the `process` runner kind (docs/process-protocol.md): it reads the
// `start` line on stdin, works in its workspace, streams its answer as JSON lines on stdout,
// calls the runner's `echo` tool when the agent may use it, checkpoints, and ends with a
// `result`. Logs go to stderr. It exits when its stdin closes (the protocol requires that).
//
// Arguments (from `executor.runner.config.args`):
//   --delay-ms=N   pause N ms before each chunk of text (a slow agent, to watch or cancel)
//   --chunks=N     stream the answer in N chunks (default 4)
//   --stubborn     ignore SIGTERM and stdin EOF (shows that the runner still ends it)
// An input starting with "fail:" makes it report an error instead of a result.
import { writeFileSync } from "node:fs";
import path from "node:path";
import readline from "node:readline";

const flag = (name, fallback) => {
  const hit = process.argv.find((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (!hit) return fallback;
  return hit.includes("=") ? hit.slice(hit.indexOf("=") + 1) : true;
};
const delayMs = Number(flag("delay-ms", 0));
const chunks = Math.max(1, Number(flag("chunks", 4)));
const stubborn = flag("stubborn", false) === true;

const send = (msg) => process.stdout.write(`${JSON.stringify(msg)}\n`);
const log = (msg) => process.stderr.write(`[echo-agent ${process.pid}] ${msg}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

if (stubborn) process.on("SIGTERM", () => log("SIGTERM ignored (--stubborn)"));
// The runner stopped reading (it is gone): nobody hears us any more.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", () => {
    if (!stubborn) process.exit(0);
  });
}

const pending = new Map(); // call_id → resolve
let started = false;
const lines = readline.createInterface({ input: process.stdin });
lines.on("line", (raw) => {
  const msg = JSON.parse(raw);
  if (msg.type === "start" && !started) {
    started = true;
    run(msg).catch((err) => {
      send({ type: "error", message: String(err?.message ?? err), retryable: false });
      process.exitCode = 1;
    });
  } else if (msg.type === "tool.result") {
    pending.get(msg.call_id)?.(msg);
    pending.delete(msg.call_id);
  }
});
// The runner is gone (or done with us): exit, unless told to misbehave.
lines.on("close", () => {
  if (stubborn) {
    log("stdin closed; staying alive (--stubborn)");
    setInterval(() => {}, 1000);
    return;
  }
  process.exit(0);
});

async function run(start) {
  log(`start task ${start.task_id} attempt ${start.attempt} in ${start.workspace}`);
  const input = String(start.input_text);
  if (input.startsWith("fail:")) {
    send({ type: "error", code: "agent_refused", message: `asked to fail: ${input.slice(5).trim()}`, retryable: false });
    return;
  }
  // The workspace is ours for this attempt: keep notes there.
  writeFileSync(path.join(start.workspace, "notes.txt"), `input: ${input}\n`);

  let round = 1;
  let echoed = null;
  if (start.resume?.echoed !== undefined) {
    echoed = start.resume.echoed; // an earlier attempt got this far: skip the tool round
    round++;
  } else if (start.tools.includes("echo")) {
    send({ type: "step.start" });
    send({ type: "text.delta", delta: "Checking with the echo tool." });
    send({ type: "message", content: "Checking with the echo tool." });
    const call_id = `echo-${start.attempt}`;
    const result = new Promise((resolve) => pending.set(call_id, resolve));
    send({ type: "tool.call", call_id, tool: "echo", args: { said: input } });
    const answer = await result;
    echoed = answer.result?.said ?? null;
    send({ type: "step.finish" });
    send({ type: "checkpoint", state: { echoed } });
    round++;
  }

  send({ type: "step.start" });
  const text = `Echo agent (round ${round}): ${echoed ?? input}`;
  const size = Math.ceil(text.length / chunks);
  for (let i = 0; i < text.length; i += size) {
    if (delayMs) await sleep(delayMs);
    send({ type: "text.delta", delta: text.slice(i, i + size) });
  }
  send({ type: "message", content: text });
  send({ type: "usage", input_tokens: Math.ceil(input.length / 4), output_tokens: Math.ceil(text.length / 4) });
  send({ type: "step.finish" });
  send({ type: "result", text });
}
