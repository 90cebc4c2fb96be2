// The `switchyard` CLI as a user runs it: the real npm bin as a separate process against a real
// fleet, with SWITCHYARD_URL in its environment. Exit codes, live output, --json, approvals
// (answered by command, and at the interactive prompt on a pseudo-terminal from util-linux `script`).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Fleet, freePort, startFleet } from "@switchyard/devkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { putAgents, waitForTask } from "../src/support.ts";

const BIN = path.resolve(import.meta.dirname, "../../node_modules/.bin/switchyard");
let fleet: Fleet;
let G: string;
const tmp = mkdtempSync(path.join(tmpdir(), "sy-cli-"));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], opts: { stdin?: string; env?: Record<string, string> } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, args, { env: { ...process.env, SWITCHYARD_URL: G, NO_COLOR: "1", ...opts.env }, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    // A command that hangs fails its test with what it printed, instead of the test timing out blind.
    const timer = setTimeout(() => {
      stderr += `\n[test] killed after 90 s: switchyard ${args.join(" ")}`;
      child.kill("SIGKILL");
    }, 90_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.stdin ?? "");
  });
}

/** Runs the CLI on a pseudo-terminal (stdin and stdout are a TTY), typing `typed` into it. */
function cliOnTty(args: string[], typed: string): Promise<Run> {
  const command = [BIN, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  return new Promise((resolve, reject) => {
    const child = spawn("script", ["-qfec", command, "/dev/null"], { env: { ...process.env, SWITCHYARD_URL: G, NO_COLOR: "1" } });
    let stdout = "";
    let typedYet = false;
    child.stdout.on("data", (d) => {
      stdout += d;
      // Type the answer once the prompt shows, as a person would.
      if (!typedYet && stdout.includes("Approve ")) {
        typedYet = true;
        child.stdin.write(typed);
      }
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr: "" }));
  });
}

const explain = (r: Run) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

beforeAll(async () => {
  fleet = await startFleet();
  G = fleet.gatewayUrl;
  await putAgents(G, {
    "cli-pay": {
      model: "scripted",
      tools: ["payments.charge"],
      approval: { policy: "pattern", tools: ["payments.*"] },
      script: [{ text: "Charging.", tool: { name: "payments.charge", args: { amount: 42 } } }, { text: "Paid for {{input}}." }],
    },
    "cli-echo": {
      model: "scripted",
      tools: ["echo"],
      script: [{ text: "Echo first.", tool: { name: "echo", args: { q: "{{input}}" } } }, { text: "It is {{input}}." }],
    },
    "cli-ext": {
      model: "scripted",
      tools: [{ name: "lookup", external: true, parameters: { type: "object" } }],
      script: [{ text: "Looking up.", tool: { name: "lookup", args: { q: "{{input}}" } } }, { text: "Found it." }],
    },
    // Needs two rounds but may take one: fails with budget_exceeded.
    "cli-fails": { model: "scripted", tools: ["echo"], limits: { max_rounds: 1 }, script: [{ text: "a", tool: { name: "echo", args: {} } }, { text: "b" }] },
    "cli-slow": { model: "scripted", tools: ["sleep"], script: [{ text: "zzz", tool: { name: "sleep", args: { ms: 30_000 } } }, { text: "woke" }] },
  });
});

afterAll(async () => {
  await fleet?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

// Each CLI call is a Node process start (about a second, several on a busy machine): generous limits.
describe("switchyard CLI", { timeout: 240_000 }, () => {
  it("run streams the answer on stdout and tool calls on stderr; exit 0 when completed", async () => {
    const r = await cli(["run", "cli-echo", "Lisbon"]);
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout).toContain("Lisbon");
    expect(r.stderr).toMatch(/→ \w/); // a tool call line
    expect(r.stderr).toContain("● completed");
  });

  it("run exits 1 when the task fails, and says why", async () => {
    const r = await cli(["run", "cli-fails", "x"]);
    expect(r.code, explain(r)).toBe(1);
    expect(r.stderr).toContain("failed: budget_exceeded");
  });

  it("--json run prints one event per line; get --json prints the task", async () => {
    const r = await cli(["--json", "run", "hello", "json"]);
    expect(r.code, explain(r)).toBe(0);
    const events = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(events.at(-1)).toMatchObject({ type: "status", data: { status: "completed" } });
    const seqs = events.map((e) => e.seq);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    const g = await cli(["get", events[0].task_id, "--json"]);
    expect(g.code, explain(g)).toBe(0);
    expect(JSON.parse(g.stdout)).toMatchObject({ id: events[0].task_id, status: "completed" });
    const ps = await cli(["ps", "--json", "--status", "completed", "--agent", "hello"]);
    expect(JSON.parse(ps.stdout).map((t: { id: string }) => t.id)).toContain(events[0].task_id);
    const table = await cli(["ps", "--agent", "hello"]);
    expect(table.stdout.split("\n")[0]).toMatch(/^ID\s+AGENT\s+STATUS\s+ATTEMPT\s+AGE\s+NODE/);
    expect(table.stdout).toContain(events[0].task_id);
  });

  it("approve by command: a detached run parks, approve resumes it, follow exits 0", async () => {
    const d = await cli(["run", "cli-pay", "order 9", "--detach"]);
    expect(d.code, explain(d)).toBe(0);
    const id = d.stdout.trim();
    const parked = await waitForTask(G, id, (t) => t.status === "input_required", 20_000, "input_required");
    const callId = parked.pending.calls[0].call_id as string;
    const shown = await cli(["get", id]);
    expect(shown.stdout).toContain(`call ${callId}`);
    const a = await cli(["approve", id, callId, "--reason", "fine"]);
    expect(a.code, explain(a)).toBe(0);
    expect(a.stdout).toContain("approved");
    const again = await cli(["reject", id, callId]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("already_decided");
    const f = await cli(["follow", id]);
    expect(f.code, explain(f)).toBe(0);
    expect(f.stdout).toContain("Paid for order 9");
    expect(f.stderr).toContain("approved by client (fine)");
  });

  it("run on a terminal asks for the approval and acts on the answer", async () => {
    const yes = await cliOnTty(["run", "cli-pay", "order 10"], "y\r");
    expect(yes.code, explain(yes)).toBe(0);
    expect(yes.stdout).toContain("Paid for order 10");
    const no = await cliOnTty(["run", "cli-pay", "order 11"], "n\r");
    expect(no.stdout).toContain("rejected by client");
  });

  it("tool-result answers an external call; bad JSON is a usage error (exit 2)", async () => {
    const d = await cli(["run", "cli-ext", "q", "--detach", "--json"]);
    const id = JSON.parse(d.stdout).id as string;
    const parked = await waitForTask(G, id, (t) => t.status === "input_required", 20_000, "input_required");
    const callId = parked.pending.calls[0].call_id as string;
    const bad = await cli(["tool-result", id, callId, "{nope"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("not valid JSON");
    const ok = await cli(["tool-result", id, callId, '{"found":true}']);
    expect(ok.code, explain(ok)).toBe(0);
    const f = await cli(["follow", id]);
    expect(f.code, explain(f)).toBe(0);
    expect(f.stdout).toContain("Found it");
    expect(f.stderr).toContain(`switchyard tool-result ${id} ${callId}`);
  });

  it("cancel: follow of the canceled task exits 1", async () => {
    const d = await cli(["run", "cli-slow", "x", "--detach"]);
    const id = d.stdout.trim();
    await waitForTask(G, id, (t) => t.status === "running", 20_000, "running");
    const c = await cli(["cancel", id, "--reason", "enough"]);
    expect(c.code, explain(c)).toBe(0);
    const f = await cli(["follow", id]);
    expect(f.code, explain(f)).toBe(1);
    expect(f.stderr).toContain("● canceled");
  });

  it("agents put/ls/get/rm, runners and kinds", async () => {
    const file = path.join(tmp, "cli-greeter.md");
    writeFileSync(file, "---\nmodel: scripted\ndescription: Greets.\nscript:\n  - text: 'Hi {{input}}'\n---\nYou greet people.\n");
    const put = await cli(["agents", "put", file]);
    expect(put.code, explain(put)).toBe(0);
    const ls = await cli(["agents", "ls"]);
    expect(ls.stdout, explain(ls)).toMatch(/cli-greeter\s+llm\s+scripted/);
    const get = await cli(["agents", "get", "cli-greeter"]);
    expect(JSON.parse(get.stdout)).toMatchObject({ name: "cli-greeter", instructions: "You greet people." });
    const run = await cli(["run", "cli-greeter", "Bo"]);
    expect(run.stdout, explain(run)).toContain("Hi Bo");
    const rm = await cli(["agents", "rm", "cli-greeter"]);
    expect(rm.code, explain(rm)).toBe(0);
    const gone = await cli(["agents", "get", "cli-greeter"]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("HTTP 404");
    const runners = await cli(["runners", "--json"]);
    expect(runners.code, explain(runners)).toBe(0);
    expect(JSON.parse(runners.stdout)[0].slots.total).toBeGreaterThan(0);
    const kinds = await cli(["kinds"]);
    expect(kinds.stdout, explain(kinds)).toMatch(/^KIND\s+NODES\s+FREE SLOTS\s+QUEUED/);
    expect(kinds.stdout).toMatch(/\nlocal\s+1\s+/);
  });

  it("errors: an unknown task is exit 1 naming the code; no gateway is exit 1", async () => {
    const r = await cli(["get", "0190a0a0-0000-7000-8000-000000000000"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("task_not_found");
    const closed = await freePort(); // nothing listens there
    const down = await cli(["--url", `http://127.0.0.1:${closed}`, "runners"]);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain("ECONNREFUSED");
  });
});
