// The `process` runner kind: runs an agent program as a local subprocess that speaks JSON lines
// over stdio (docs/process-protocol.md). Lifecycle per attempt: prepare a workspace directory,
// start the program in its own process group, relay its lines as task events, stop it
// (SIGTERM, SIGKILL after PROCESS_STOP_GRACE_MS), remove the workspace. The agent's status
// (created, running, stopped, removed, failed with a reason) is the task's `runner_state`.
// No agent outlives its run: a cancel or a drain stops the group; a crashed runner closes the
// agent's stdin (agents must exit on EOF), and every node serving `process` kills the groups
// recorded under the workspace root of nodes that are gone (at start and every few seconds).
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import readline from "node:readline";
import type { JsonObject, Usage, WireError } from "@switchyard/contracts";
import { z } from "zod";
import { BUILTIN_TOOLS, runTool } from "../tools.ts";
import { defineRunnerKind, type NodeInfo, type RunContext, type RunOutcome } from "./kind.ts";
import { type EnvPolicy, envPolicy } from "./process-env.ts";

/** A program name: a file in PROCESS_AGENTS_DIR, never a path. */
const ProgramName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, "must be a file name in the runner's agents folder (no '/')");

const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;

/**
 * The config schema of this node's `process` kind. `env` names must fit the node's policy
 * (PROCESS_ENV_ALLOW minus the hard deny list), so the published JSON Schema lets the gateway
 * refuse a forbidden name at submit; the node checks again before starting anything.
 */
export function processConfigSchema(policy: EnvPolicy) {
  return z
    .object({
      program: ProgramName,
      args: z.array(z.string().max(4096)).max(64).default([]),
      env: z
        .record(z.string().regex(policy.namePattern), z.string().max(65_536), {
          error: (iss) => {
            if (iss.code !== "invalid_key") return undefined;
            const name = String(iss.path?.at(-1) ?? "");
            return ENV_NAME.test(name) && name.length <= 128
              ? (policy.refusal(name) ?? "not allowed")
              : `'${name.slice(0, 128)}' is not an upper-case variable name ([A-Z_][A-Z0-9_]*, at most 128 characters)`;
          },
        })
        .default({}),
    })
    .strict();
}
/** The shape without a node's env policy (any well-formed name). */
export const ProcessConfig = processConfigSchema(envPolicy(["*"]));
export type ProcessConfig = z.infer<typeof ProcessConfig>;

/** One line an agent writes on stdout (docs/process-protocol.md). */
const AgentLine = z.discriminatedUnion("type", [
  z.object({ type: z.literal("step.start") }),
  z.object({ type: z.literal("step.finish") }),
  z.object({ type: z.literal("text.delta"), delta: z.string() }),
  z.object({ type: z.literal("message"), content: z.string() }),
  z.object({
    type: z.literal("tool.call"),
    call_id: z.string().max(128).optional(),
    tool: z.string().min(1).max(128),
    args: z.record(z.string(), z.unknown()).default({}),
  }),
  z.object({ type: z.literal("usage"), input_tokens: z.number().int().min(0), output_tokens: z.number().int().min(0) }),
  z.object({ type: z.literal("checkpoint"), state: z.record(z.string(), z.unknown()) }),
  z.object({ type: z.literal("result"), text: z.string() }),
  z.object({ type: z.literal("error"), code: z.string().max(64).optional(), message: z.string(), retryable: z.boolean().default(false) }),
]);
type AgentLine = z.infer<typeof AgentLine>;

export type AgentStatus = "created" | "running" | "stopped" | "removed" | "failed";

const SCRIPT_EXTENSIONS = /\.(mjs|cjs|js|ts)$/;
const PID_SUFFIX = ".pid";
const OWNER_FILE = "owner.pid";
const SWEEP_INTERVAL_MS = 5000;

export interface ProcessKindOptions {
  agentsDir: string;
  stopGraceMs: number;
  /** PROCESS_ENV_ALLOW: the names (and `*` globs) of variables a task may set; default none. */
  envAllow?: readonly string[];
}

export function processKind(opts: ProcessKindOptions) {
  const policy = envPolicy(opts.envAllow ?? []);
  return defineRunnerKind<ProcessConfig>({
    kind: "process",
    description: "Runs an agent program from the runner's agents folder as a subprocess speaking JSON lines over stdio (docs/process-protocol.md).",
    configSchema: processConfigSchema(policy),
    run: (ctx) => runProcessAgent(ctx, opts, policy),
    onNodeStart: async (node) => {
      await claimWorkspaceRoot(node);
      const timer = setInterval(() => void sweepDeadNodes(node).catch(() => undefined), SWEEP_INTERVAL_MS);
      timer.unref();
    },
  });
}

// ---- one attempt ----

async function runProcessAgent(ctx: RunContext<ProcessConfig>, opts: ProcessKindOptions, policy: EnvPolicy): Promise<RunOutcome> {
  const { grant, config, log } = ctx;
  const baseRound = grant.checkpoint?.round ?? 0;
  let round = baseRound + 1;
  let calls = 0; // numbers the calls an agent sends without a call_id
  // Usage stays cumulative across attempts: the agent's own totals come on top of the grant's.
  const base = grant.usage;
  let usage: Usage = base;
  const workspace = path.join(ctx.node.workspaceRoot, `${grant.task_id}-a${grant.attempt}`);
  const pidFile = `${workspace}${PID_SUFFIX}`;
  const history: AgentStatus[] = [];
  const state: JsonObject & { status: AgentStatus } = { status: "created", program: config.program, workspace, pid: null, history };
  const setStatus = (status: AgentStatus, extra: JsonObject = {}) => {
    history.push(status);
    if (state.status === "failed" && status !== "failed")
      Object.assign(state, extra); // a failure stays the status
    else Object.assign(state, { status, ...extra });
    state.updated_at = new Date().toISOString();
    ctx.setState({ ...state, history: [...history] });
  };

  // The config was parsed with this node's schema; the policy is checked again here so that no
  // path (an older record, another node's schema in KV) starts a program with a denied variable.
  const refusals = Object.keys(config.env)
    .map((name) => policy.refusal(name))
    .filter((r): r is string => r !== null);
  if (refusals.length > 0) {
    const error = { code: "invalid_config", message: `process agent not started: ${refusals.join("; ")}`, retryable: false };
    setStatus("failed", { reason: error.message });
    await ctx.events.emit("error", error);
    return { kind: "failed", error, usage };
  }
  const program = path.join(opts.agentsDir, config.program);
  if (!existsSync(program)) {
    const error = { code: "invalid_config", message: `process agent '${config.program}' is not in this runner's agents folder`, retryable: false };
    setStatus("failed", { reason: error.message });
    await ctx.events.emit("error", error);
    return { kind: "failed", error, usage };
  }
  await mkdir(workspace, { recursive: true });
  setStatus("created");

  const [command, args] = SCRIPT_EXTENSIONS.test(program) ? [process.execPath, [program, ...config.args]] : [program, config.args];
  const child = spawn(command, args, {
    cwd: workspace,
    env: { ...config.env, PATH: process.env.PATH ?? "", HOME: workspace, SY_WORKSPACE: workspace, SY_TASK_ID: grant.task_id },
    stdio: ["pipe", "pipe", "pipe"],
    detached: true, // its own process group: stopping it stops whatever it started
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
    child.once("error", (err) => {
      log.warn({ err: err.message }, "agent process could not start");
      resolve({ code: null, signal: null });
    });
  });
  if (child.pid !== undefined) await writeFile(pidFile, String(child.pid)).catch(() => undefined);
  setStatus("running", { pid: child.pid ?? null, started_at: new Date().toISOString() });
  child.stdin.on("error", () => undefined); // EPIPE once it exited
  const stderrTail: string[] = [];
  readline.createInterface({ input: child.stderr }).on("line", (line) => {
    stderrTail.push(line.slice(0, 500));
    if (stderrTail.length > 20) stderrTail.shift();
    log.debug({ agent_stderr: line.slice(0, 2000) }, "agent stderr");
  });

  const send = (msg: unknown) => {
    if (child.stdin.writable) child.stdin.write(`${JSON.stringify(msg)}\n`);
  };
  send({
    type: "start",
    v: 1,
    task_id: grant.task_id,
    attempt: grant.attempt,
    agent: grant.agent,
    input: grant.input,
    input_text: ctx.inputText,
    instructions: grant.plan.instructions,
    tools: grant.plan.tools,
    workspace,
    resume: (grant.checkpoint?.state?.process as JsonObject | undefined) ?? null,
  });

  const stop = () => stopGroup(child, opts.stopGraceMs);
  ctx.signal.addEventListener("abort", () => void stop(), { once: true });

  // Lines are handled one at a time, in order.
  let outcome: RunOutcome | null = null;
  const fail = async (error: WireError): Promise<void> => {
    outcome ??= { kind: "failed", error, usage };
    await ctx.events.emit("error", error).catch(() => undefined);
  };
  const lines = readline.createInterface({ input: child.stdout, crlfDelay: Number.POSITIVE_INFINITY });
  try {
    for await (const raw of lines) {
      if (ctx.signal.aborted || outcome) break;
      if (!raw.trim()) continue;
      const line = parseLine(raw);
      if (!line.ok) {
        await fail({ code: "process_error", message: `agent wrote a line that is not protocol: ${line.reason}`, retryable: false });
        break;
      }
      outcome = await handleLine(line.value);
      if (outcome) break;
    }
  } catch (err) {
    if (!ctx.signal.aborted) await fail({ code: "process_error", message: `reading the agent failed: ${(err as Error).message}`, retryable: true });
  }

  async function handleLine(l: AgentLine): Promise<RunOutcome | null> {
    switch (l.type) {
      case "step.start":
        await ctx.events.emit("step.start", { round });
        return null;
      case "step.finish":
        await ctx.events.emit("step.finish", { round });
        round += 1;
        return null;
      case "text.delta":
        await ctx.events.emit("text.delta", { round, delta: l.delta });
        return null;
      case "message":
        await ctx.events.emit("message", { round, role: "assistant", content: l.content });
        return null;
      case "usage":
        usage = {
          input_tokens: base.input_tokens + l.input_tokens,
          output_tokens: base.output_tokens + l.output_tokens,
          total_tokens: base.total_tokens + l.input_tokens + l.output_tokens,
        };
        await ctx.events.emit("usage", usage);
        return null;
      case "tool.call": {
        const callId = l.call_id ?? `call_${round}_${++calls}`;
        await ctx.events.emit("tool.call", { round, call_id: callId, tool: l.tool, args: l.args });
        // Every tool call goes through the kernel's policy check. A process agent cannot be
        // parked and resumed with answers, so the kernel fails a call that needs one.
        await ctx.events.flush();
        const verdict = await ctx.checkRound({ round, usage, calls: [{ call_id: callId, tool: l.tool, args: l.args }], checkpoint: null, can_park: false });
        if (verdict.verdict !== "proceed") return { kind: "stopped", usage, message: verdict.verdict === "stop" ? verdict.message : "parked" };
        if (ctx.signal.aborted) return null;
        const result = await runTool(BUILTIN_TOOLS, grant.plan.tools, l.tool, l.args, ctx.signal);
        if (ctx.signal.aborted) return null;
        await ctx.events.emit("tool.result", { round, call_id: callId, tool: l.tool, ...result });
        send({ type: "tool.result", call_id: callId, tool: l.tool, ...result });
        return null;
      }
      case "checkpoint":
        await ctx.checkpoint({ round: round - 1, messages: [], usage, state: { process: l.state } });
        return null;
      case "result":
        return { kind: "finished", result: { text: l.text }, usage };
      case "error": {
        const error = { code: l.code ?? "process_error", message: l.message, retryable: l.retryable };
        await ctx.events.emit("error", error);
        return { kind: "failed", error, usage };
      }
    }
  }

  // The agent answered (or failed, or the run was stopped): end the process and clean up.
  child.stdin.end();
  const exit = ctx.signal.aborted || outcome ? await stopAfterEof(child, exited, opts.stopGraceMs) : await exited;
  const exitInfo = { exit_code: exit.code, exit_signal: exit.signal, stopped_at: new Date().toISOString() };
  if (ctx.signal.aborted) {
    setStatus("stopped", { ...exitInfo, reason: `run stopped (${ctx.stopReason() ?? "aborted"})` });
    outcome = { kind: "aborted", usage };
  } else if (!outcome) {
    const reason = `agent exited (${exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`}) without a result${stderrTail.length ? `; stderr: ${stderrTail.slice(-3).join(" | ")}` : ""}`;
    setStatus("failed", { ...exitInfo, reason });
    await fail({ code: "process_error", message: reason, retryable: false });
  } else if (outcome.kind === "failed") {
    setStatus("failed", { ...exitInfo, reason: outcome.error.message });
  } else {
    setStatus("stopped", exitInfo);
  }
  await removeWorkspace(workspace, pidFile);
  setStatus("removed", { workspace_removed: true });
  return outcome ?? { kind: "aborted", usage };
}

function parseLine(raw: string): { ok: true; value: AgentLine } | { ok: false; reason: string } {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { ok: false, reason: `not JSON: ${raw.slice(0, 120)}` };
  }
  const parsed = AgentLine.safeParse(value);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, reason: `${parsed.error.issues[0]?.message ?? "invalid"} in ${raw.slice(0, 120)}` };
}

// ---- stopping ----

function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    // already gone
  }
}

/** SIGTERM to the agent's process group, SIGKILL after the grace period. */
function stopGroup(child: ChildProcess, graceMs: number): void {
  if (child.pid === undefined) return;
  const pid = child.pid;
  signalGroup(pid, "SIGTERM");
  const t = setTimeout(() => signalGroup(pid, "SIGKILL"), graceMs);
  t.unref();
  child.once("exit", () => {
    clearTimeout(t);
    signalGroup(pid, "SIGKILL"); // whatever it started and left behind
  });
}

/** After a result: EOF on stdin first (the agent should exit), then the group is stopped. */
async function stopAfterEof(child: ChildProcess, exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>, graceMs: number) {
  if (child.exitCode === null && child.signalCode === null) {
    const t = setTimeout(() => stopGroup(child, graceMs), 200);
    const exit = await exited;
    clearTimeout(t);
    if (child.pid !== undefined) signalGroup(child.pid, "SIGKILL");
    return exit;
  }
  const exit = await exited;
  if (child.pid !== undefined) signalGroup(child.pid, "SIGKILL");
  return exit;
}

async function removeWorkspace(workspace: string, pidFile: string): Promise<void> {
  await rm(workspace, { recursive: true, force: true }).catch(() => undefined);
  await rm(pidFile, { force: true }).catch(() => undefined);
}

// ---- sweeping what crashed nodes left ----

/** Whether `pid` runs; a zombie (exited, not yet reaped by a PID 1 that never reaps) does not. */
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat[stat.lastIndexOf(")") + 2] !== "Z";
  } catch {
    return true; // no /proc (not Linux): trust kill(0)
  }
};

/** Sweeps this node id's leftovers (a previous life), then every dead node's, and records our pid as owner. */
async function claimWorkspaceRoot(node: NodeInfo): Promise<void> {
  await sweepKindDir(node.workspaceRoot, node);
  await sweepDeadNodes(node);
  const nodeDir = path.dirname(node.workspaceRoot);
  await mkdir(node.workspaceRoot, { recursive: true });
  await writeFile(path.join(nodeDir, OWNER_FILE), String(process.pid));
}

/** Node directories under the shared root whose owner process is gone: kill their agents, remove them. */
export async function sweepDeadNodes(node: NodeInfo): Promise<void> {
  const nodeDir = path.dirname(node.workspaceRoot);
  const root = path.dirname(nodeDir);
  const kindName = path.basename(node.workspaceRoot);
  const entries = await readdir(root).catch(() => [] as string[]);
  for (const entry of entries) {
    const dir = path.join(root, entry);
    if (dir === nodeDir) continue;
    const owner = Number(await readFile(path.join(dir, OWNER_FILE), "utf8").catch(() => "0"));
    if (owner > 0 && alive(owner)) continue;
    if (!existsSync(path.join(dir, kindName))) continue;
    await sweepKindDir(path.join(dir, kindName), node);
    await rm(path.join(dir, OWNER_FILE), { force: true }).catch(() => undefined);
  }
}

async function sweepKindDir(kindDir: string, node: NodeInfo): Promise<void> {
  const entries = await readdir(kindDir).catch(() => [] as string[]);
  for (const entry of entries) {
    if (!entry.endsWith(PID_SUFFIX)) continue;
    const pid = Number(await readFile(path.join(kindDir, entry), "utf8").catch(() => "0"));
    if (pid > 0 && alive(pid)) {
      signalGroup(pid, "SIGKILL");
      node.log.warn({ pid, workspace: entry.slice(0, -PID_SUFFIX.length) }, "killed an agent process left by a runner that is gone");
    }
    await removeWorkspace(path.join(kindDir, entry.slice(0, -PID_SUFFIX.length)), path.join(kindDir, entry));
  }
}
