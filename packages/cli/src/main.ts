// The switchyard CLI: client commands against SWITCHYARD_URL with SWITCHYARD_API_KEY, built on
// @switchyard/client. Exit codes: 0 success (for run/follow: the task completed), 1 the task
// failed or was canceled, or a request failed; 2 bad usage.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline/promises";
import { createClient, SwitchyardApiError, type SwitchyardClient, type TaskEvent, type TaskStatus, type TaskView } from "@switchyard/client";
import { Command, CommanderError, Option } from "commander";
import { parse as parseYaml } from "yaml";
import { age, bold, dim, green, type Out, red, StreamRenderer, TASK_HEADERS, table, taskRows, yellow } from "./render.ts";

interface Globals {
  url: string;
  apiKey?: string;
  json?: boolean;
}

export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: Record<string, string | undefined>;
}

/** Thrown to end the program with an exit code (after output was written). */
class Exit extends Error {
  readonly code: number;
  constructor(code: number) {
    super(`exit ${code}`);
    this.code = code;
  }
}

const STATUSES = ["queued", "running", "input_required", "completed", "failed", "canceled"] as const;

/** Runs the CLI; resolves with the exit code. */
export async function main(
  argv: string[],
  io: Io = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env },
): Promise<number> {
  const tty = Boolean(io.stdout.isTTY);
  const o: Out = { out: (s) => void io.stdout.write(s), err: (s) => void io.stderr.write(s), color: tty && !io.env.NO_COLOR };
  const printJson = (v: unknown) => o.out(`${JSON.stringify(v, null, 2)}\n`);

  const program = new Command("switchyard")
    .description("Run and follow Switchyard tasks, answer approvals, list tasks, agents and runners.")
    .addOption(new Option("--url <url>", "gateway URL").env("SWITCHYARD_URL").default("http://localhost:8080"))
    .addOption(new Option("--api-key <key>", "API key (sent as a bearer token)").env("SWITCHYARD_API_KEY"))
    .option("--json", "machine-readable output (JSON; NDJSON events for run and follow)")
    .exitOverride()
    .configureOutput({ writeOut: (s) => o.out(s), writeErr: (s) => o.err(s) })
    .showHelpAfterError();

  const g = (): Globals => program.opts<Globals>();
  let client: SwitchyardClient | undefined;
  const sy = (): SwitchyardClient => {
    const opts = g();
    client ??= createClient({ baseUrl: opts.url, ...(opts.apiKey ? { apiKey: opts.apiKey } : {}) });
    return client;
  };

  /** Follows a task, rendering it; returns its final status. Answers approvals on a TTY. */
  const follow = async (id: string, opts: { after?: number; interactive: boolean }): Promise<TaskStatus> => {
    const r = new StreamRenderer(o);
    let final: TaskStatus | undefined;
    const prompt = opts.interactive && !g().json && Boolean(io.stdin.isTTY) && tty;
    const asked = new Set<string>();
    for await (const e of sy().tasks.follow(id, {
      ...(opts.after ? { after: opts.after } : {}),
      onReconnect: ({ after }) => {
        if (!g().json) o.err(dim(o, `  (connection lost; resuming after event ${after})\n`));
      },
    })) {
      if (g().json) o.out(`${JSON.stringify(e)}\n`);
      else r.event(e);
      if (e.type === "status" && ["completed", "failed", "canceled"].includes(e.data.status)) final = e.data.status;
      if (prompt && e.type === "approval.requested" && !asked.has(e.data.call_id)) {
        asked.add(e.data.call_id);
        r.end();
        await askApproval(id, e);
      }
    }
    r.end();
    return final ?? (await sy().tasks.get(id)).status;
  };

  const askApproval = async (id: string, e: Extract<TaskEvent, { type: "approval.requested" }>) => {
    const rl = createInterface({ input: io.stdin, output: io.stderr });
    try {
      const answer = (await rl.question(yellow(o, `Approve ${e.data.tool}? [y/N/r=reject with reason] `))).trim().toLowerCase();
      if (answer === "y" || answer === "yes") await sy().approvals.approve(id, e.data.call_id);
      else {
        const reason = answer === "r" ? (await rl.question("Reason: ")).trim() : "";
        await sy().approvals.reject(id, e.data.call_id, reason ? { reason } : {});
      }
    } catch (err) {
      if (err instanceof SwitchyardApiError && err.code === "already_decided") o.err(dim(o, "  (already decided elsewhere)\n"));
      else throw err;
    } finally {
      rl.close();
    }
  };

  const exitFor = (status: TaskStatus): never => {
    throw new Exit(status === "completed" ? 0 : 1);
  };

  program
    .command("run")
    .description("submit a task and stream it live: text on stdout, tool calls and status on stderr; exit 0 when it completes")
    .argument("<agent>", "agent name")
    .argument("<input>", "the task's input text ('-' reads stdin)")
    .option("--metadata <json>", "metadata object (JSON)")
    .option("--idempotency-key <key>", "Idempotency-Key for the submit (default: a fresh one)")
    .option("--detach", "print the task id and return without following")
    .action(async (agent: string, input: string, opts: { metadata?: string; idempotencyKey?: string; detach?: boolean }) => {
      const text = input === "-" ? await readAll(io.stdin) : input;
      const metadata = opts.metadata ? parseJsonArg(opts.metadata, "--metadata") : undefined;
      const sub = await sy().tasks.submit(
        { agent, input: text, ...(metadata ? { metadata: metadata as Record<string, unknown> } : {}) },
        opts.idempotencyKey ? { idempotencyKey: opts.idempotencyKey } : {},
      );
      if (opts.detach) {
        if (g().json) printJson(sub);
        else o.out(`${sub.id}\n`);
        return;
      }
      if (!g().json) o.err(dim(o, `task ${sub.id} (${agent})\n`));
      exitFor(await follow(sub.id, { interactive: true }));
    });

  program
    .command("follow")
    .description("stream a task's events until it ends (resumes by itself after a dropped connection)")
    .argument("<id>", "task id")
    .option("--after <seq>", "start after this event seq", (v) => intArg(v, "--after"))
    .option("--no-prompt", "do not ask for approvals on a terminal")
    .action(async (id: string, opts: { after?: number; prompt: boolean }) => {
      exitFor(await follow(id, { ...(opts.after ? { after: opts.after } : {}), interactive: opts.prompt }));
    });

  program
    .command("get")
    .description("show a task")
    .argument("<id>", "task id")
    .action(async (id: string) => {
      const t = await sy().tasks.get(id);
      if (g().json) return printJson(t);
      o.out(describeTask(o, t));
    });

  program
    .command("cancel")
    .description("cancel a task")
    .argument("<id>", "task id")
    .option("--reason <text>", "why")
    .action(async (id: string, opts: { reason?: string }) => {
      const r = await sy().tasks.cancel(id, opts.reason ? { reason: opts.reason } : {});
      if (g().json) return printJson(r);
      o.out(`cancel requested for ${r.id} (was ${r.status})\n`);
    });

  for (const decision of ["approve", "reject"] as const) {
    program
      .command(decision)
      .description(`${decision} a tool call that waits for a person`)
      .argument("<id>", "task id")
      .argument("<call_id>", "the call's id (from the approval.requested event, or `get`)")
      .option("--reason <text>", "why")
      .action(async (id: string, callId: string, opts: { reason?: string }) => {
        const r = await sy().approvals.decide(id, { call_id: callId, decision, ...(opts.reason ? { reason: opts.reason } : {}) });
        if (g().json) return printJson(r);
        o.out(
          `${decision === "approve" ? "approved" : "rejected"} ${callId}: ${r.outcome}; task is ${r.status}${r.waiting.length ? `, still waiting for ${r.waiting.join(", ")}` : ""}\n`,
        );
      });
  }

  program
    .command("tool-result")
    .description("answer an external tool call with a JSON result (or --error)")
    .argument("<id>", "task id")
    .argument("<call_id>", "the call's id")
    .argument("<json>", "the result as JSON ('-' reads stdin); with --error, the error message")
    .option("--error", "report the tool as failed with this message")
    .action(async (id: string, callId: string, value: string, opts: { error?: boolean }) => {
      const raw = value === "-" ? await readAll(io.stdin) : value;
      const body = opts.error ? { call_id: callId, error: raw } : { call_id: callId, result: parseJsonArg(raw, "<json>") };
      const r = await sy().toolResults.post(id, body);
      if (g().json) return printJson(r);
      o.out(`result for ${callId}: ${r.outcome}; task is ${r.status}\n`);
    });

  program
    .command("ps")
    .description("list tasks, newest first")
    .addOption(new Option("--status <status>", "only tasks in this status").choices(STATUSES))
    .option("--agent <name>", "only tasks of this agent")
    .option("--limit <n>", "at most n tasks (1-500)", (v) => intArg(v, "--limit"), 50)
    .option("--watch", "refresh until interrupted")
    .option("--interval <ms>", "refresh interval with --watch", (v) => intArg(v, "--interval"), 2000)
    .action(async (opts: { status?: TaskStatus; agent?: string; limit: number; watch?: boolean; interval: number }) => {
      const query = { limit: opts.limit, ...(opts.status ? { status: opts.status } : {}), ...(opts.agent ? { agent: opts.agent } : {}) };
      for (;;) {
        const page = await sy().tasks.list(query);
        if (g().json) o.out(`${JSON.stringify(page.items)}\n`);
        else {
          if (opts.watch && tty) o.out("\x1b[2J\x1b[H");
          const counts = new Map<string, number>();
          for (const t of page.items) counts.set(t.status, (counts.get(t.status) ?? 0) + 1);
          o.out(table(TASK_HEADERS, taskRows(page.items)));
          if (opts.watch) o.out(dim(o, `${new Date().toISOString()}  ${[...counts].map(([s, n]) => `${s}: ${n}`).join("  ") || "no tasks"}\n`));
        }
        if (!opts.watch) return;
        await new Promise((r) => setTimeout(r, opts.interval));
      }
    });

  const agents = program.command("agents").description("the agent catalog");
  agents
    .command("ls")
    .description("list agents")
    .action(async () => {
      const list = await sy().agents.list();
      if (g().json) return printJson(list);
      o.out(
        table(
          ["NAME", "KIND", "MODEL", "EXECUTOR", "TOOLS", "DESCRIPTION"],
          list.map((a) => [
            a.name,
            a.kind,
            a.model ?? "-",
            a.executor.type === "remote" ? `remote:${a.executor.runner.kind}` : "local",
            String(a.tools.length),
            (a.description ?? "").slice(0, 60),
          ]),
        ),
      );
    });
  agents
    .command("get")
    .description("show an agent's definition (JSON)")
    .argument("<name>")
    .action(async (name: string) => printJson(await sy().agents.get(name)));
  agents
    .command("put")
    .description("create or replace an agent from a Markdown file (YAML front matter + instructions) or a JSON file")
    .argument("<file>", "agent file (.md or .json)")
    .option("--name <name>", "agent name (default: the file name without extension)")
    .action(async (file: string, opts: { name?: string }) => {
      const text = await readFile(file, "utf8");
      const name = opts.name ?? path.basename(file).replace(/\.(md|json)$/i, "");
      const def = file.toLowerCase().endsWith(".json") ? (parseJsonArg(text, file) as Record<string, unknown>) : parseAgentMarkdown(text, name);
      const stored = await sy().agents.put(name, { ...def, name });
      if (g().json) return printJson(stored);
      o.out(`agent ${stored.name} saved (${stored.kind}${stored.model ? `, model ${stored.model}` : ""})\n`);
    });
  agents
    .command("rm")
    .description("delete an agent")
    .argument("<name>")
    .action(async (name: string) => {
      const r = await sy().agents.delete(name);
      if (g().json) return printJson(r ?? { deleted: name });
      o.out(`agent ${name} deleted\n`);
    });

  program
    .command("runners")
    .description("live runner nodes, their kinds and slots")
    .action(async () => {
      const nodes = await sy().runners.list();
      if (g().json) return printJson(nodes);
      o.out(
        table(
          ["NODE", "KINDS", "SLOTS USED/TOTAL", "VERSION", "UP", "STATE"],
          nodes.map((n) => [n.id, n.kinds.join(","), `${n.slots.used}/${n.slots.total}`, n.version, age(n.started_at), n.draining ? "draining" : "ready"]),
        ),
      );
    });

  program
    .command("kinds")
    .description("runner kinds: nodes, free slots, queue depth")
    .action(async () => {
      const kinds = await sy().runners.kinds();
      if (g().json) return printJson(kinds);
      o.out(
        table(
          ["KIND", "NODES", "FREE SLOTS", "QUEUED", "DESCRIPTION"],
          kinds.map((k) => [
            k.kind,
            String(k.nodes),
            String(k.free_slots),
            String(k.queue_depth),
            (k.description ?? (k.registered ? "" : "(unregistered)")).slice(0, 60),
          ]),
        ),
      );
    });

  try {
    await program.parseAsync(argv, { from: "user" });
    return 0;
  } catch (err) {
    if (err instanceof Exit) return err.code;
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof UsageError) {
      o.err(`${red(o, "error")}: ${err.message}\n`);
      return 2;
    }
    if (err instanceof SwitchyardApiError) {
      if (g().json) o.err(`${JSON.stringify({ error: { status: err.status, code: err.code, message: err.message, details: err.details } })}\n`);
      else {
        o.err(`${red(o, "error")}: ${err.message} ${dim(o, `(${err.code}${err.status ? `, HTTP ${err.status}` : ""})`)}\n`);
        if (Array.isArray(err.details)) for (const d of err.details as { path?: string; message?: string }[]) o.err(`  ${d.path ?? ""}: ${d.message ?? ""}\n`);
      }
      return 1;
    }
    o.err(`${red(o, "error")}: ${(err as Error)?.message ?? String(err)}\n`);
    return 1;
  }
}

class UsageError extends Error {}

function intArg(v: string, what: string): number {
  if (!/^\d+$/.test(v)) throw new UsageError(`${what} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return Number(v);
}

function parseJsonArg(v: string, what: string): unknown {
  try {
    return JSON.parse(v);
  } catch (err) {
    throw new UsageError(`${what} is not valid JSON: ${(err as Error).message}`);
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}

const FRONT_MATTER = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?([\s\S]*)$/;

/** An agent file as the spawner reads AGENTS_DIR: YAML front matter for the fields, the body for the instructions. */
export function parseAgentMarkdown(text: string, name: string): Record<string, unknown> {
  const m = FRONT_MATTER.exec(text);
  if (!m) throw new UsageError("agent file: missing YAML front matter (the file must start with a '---' line)");
  let fields: unknown;
  try {
    fields = parseYaml(m[1] ?? "");
  } catch (err) {
    throw new UsageError(`agent file: front matter is not valid YAML: ${(err as Error).message}`);
  }
  if (fields === null || typeof fields !== "object" || Array.isArray(fields)) throw new UsageError("agent file: front matter must be a YAML mapping");
  const body = (m[2] ?? "").trim();
  return { name, ...(fields as Record<string, unknown>), ...(body ? { instructions: body } : {}) };
}

function describeTask(o: Out, t: TaskView): string {
  const lines = [
    `${bold(o, t.id)}  ${t.agent}  ${t.status === "completed" ? green(o, t.status) : t.status === "failed" ? red(o, t.status) : t.status}  attempt ${t.attempt}`,
    `created ${t.created_at} (${age(t.created_at)} ago)${t.finished_at ? `, finished ${t.finished_at}` : ""}${t.live?.node_id ? `, on ${t.live.node_id}` : ""}`,
    `input: ${typeof t.input === "string" ? t.input : JSON.stringify(t.input)}`,
    `tokens: ${t.usage.input_tokens} in, ${t.usage.output_tokens} out`,
  ];
  if (t.pending) {
    for (const c of t.pending.calls.filter((c) => c.kind !== "run" && !c.answer)) {
      lines.push(yellow(o, `waiting: ${c.kind} for ${c.tool}(${JSON.stringify(c.args)}) — call ${c.call_id}${c.reason ? ` (${c.reason})` : ""}`));
    }
  }
  if (t.result) lines.push(`result: ${t.result.text}`);
  if (t.error) lines.push(red(o, `error: ${t.error.code}: ${t.error.message}`));
  return `${lines.join("\n")}\n`;
}
