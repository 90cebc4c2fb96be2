import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { RunContext, RunOutcome } from "./kind.ts";
import { type ProcessConfig, processKind } from "./process.ts";
import { envPolicy } from "./process-env.ts";

const dir = mkdtempSync(path.join(os.tmpdir(), "sy-process-env-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("envPolicy (PROCESS_ENV_ALLOW and the hard deny list)", () => {
  it("allows nothing by default", () => {
    const p = envPolicy([]);
    expect(p.refusal("MY_FLAG")).toMatch(/not allowed on this runner node.*empty/);
    expect(p.namePattern.test("MY_FLAG")).toBe(false);
  });

  it("allows listed names and globs", () => {
    const p = envPolicy(["MY_FLAG", "AGENT_*"]);
    for (const name of ["MY_FLAG", "AGENT_", "AGENT_MODE"]) {
      expect(p.refusal(name), name).toBeNull();
      expect(p.namePattern.test(name), name).toBe(true);
    }
    for (const name of ["MY_FLAG2", "XAGENT_MODE", "OTHER"]) {
      expect(p.refusal(name), name).toMatch(/not allowed on this runner node/);
      expect(p.namePattern.test(name), name).toBe(false);
    }
  });

  it("never allows loader, interpreter, shell, path or proxy variables, even under '*'", () => {
    const p = envPolicy(["*"]);
    for (const name of [
      "NODE_OPTIONS",
      "NODE_PATH",
      "NODE",
      "LD_PRELOAD",
      "LD_LIBRARY_PATH",
      "DYLD_INSERT_LIBRARIES",
      "PATH",
      "HOME",
      "BASH_ENV",
      "PYTHONPATH",
      "HTTPS_PROXY",
      "SY_TASK_ID",
      "GIT_SSH_COMMAND",
    ]) {
      expect(p.refusal(name), name).toMatch(/may never be set/);
      expect(p.namePattern.test(name), name).toBe(false);
    }
    expect(p.refusal("MY_FLAG")).toBeNull();
    expect(p.namePattern.test("MY_FLAG")).toBe(true);
  });
});

describe("the process kind with an env policy", () => {
  // A program that proves whether it ran: it writes a marker file (and its MY_FLAG) and answers.
  const marker = path.join(dir, "ran");
  writeFileSync(
    path.join(dir, "probe.mjs"),
    `import fs from "node:fs";
fs.writeFileSync(${JSON.stringify(marker)}, String(process.env.MY_FLAG ?? ""));
process.stdout.write(JSON.stringify({ type: "result", text: "ran" }) + "\\n");
process.stdin.resume(); process.stdin.on("end", () => process.exit(0));
`,
  );
  const kind = processKind({ agentsDir: dir, stopGraceMs: 200, envAllow: ["MY_*"] });

  async function run(config: ProcessConfig): Promise<{ outcome: RunOutcome; errors: unknown[] }> {
    const errors: unknown[] = [];
    const ctx = {
      grant: {
        task_id: "t-env",
        attempt: 1,
        agent: "a",
        input: "hi",
        checkpoint: null,
        usage: { input_tokens: 0, output_tokens: 0, total_tokens: 0 },
        plan: { instructions: "", tools: [] },
      },
      config,
      inputText: "hi",
      events: {
        emit: async (type: string, data: unknown) => {
          if (type === "error") errors.push(data);
        },
        flush: async () => undefined,
      },
      checkpoint: async () => undefined,
      checkRound: async () => ({ verdict: "proceed" }),
      setState: () => undefined,
      signal: new AbortController().signal,
      stopReason: () => null,
      node: { id: "n", workspaceRoot: path.join(dir, "ws"), log: { warn: () => undefined, info: () => undefined, debug: () => undefined } },
      log: { warn: () => undefined, info: () => undefined, debug: () => undefined },
      textChunkChars: 16,
    } as unknown as RunContext<ProcessConfig>;
    return { outcome: await kind.run(ctx), errors };
  }

  it("its config schema refuses a denied name with a message naming it, and publishes the rule as a pattern", () => {
    const parsed = kind.configSchema.safeParse({ program: "probe.mjs", env: { NODE_OPTIONS: "--import=data:text/javascript,1" } });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]).toMatchObject({ path: ["env", "NODE_OPTIONS"], message: expect.stringMatching(/NODE_OPTIONS' may never be set/) });
    const other = kind.configSchema.safeParse({ program: "probe.mjs", env: { OTHER: "1" } });
    expect(other.error?.issues[0]?.message).toMatch(/'OTHER' is not allowed on this runner node \(PROCESS_ENV_ALLOW: MY_\*\)/);
    expect(kind.configSchema.safeParse({ program: "probe.mjs", env: { MY_FLAG: "1" } }).success).toBe(true);
  });

  it("refuses to start the program when a denied variable reaches the node anyway (non-retryable, naming the variable)", async () => {
    rmSync(marker, { force: true });
    const { outcome, errors } = await run({ program: "probe.mjs", args: [], env: { NODE_OPTIONS: "--import=data:text/javascript,1" } });
    expect(outcome).toMatchObject({ kind: "failed", error: { code: "invalid_config", retryable: false, message: expect.stringContaining("NODE_OPTIONS") } });
    expect(errors).toHaveLength(1);
    expect(existsSync(marker), "the program never started").toBe(false);
  });

  it("passes an allowed variable to the program", async () => {
    rmSync(marker, { force: true });
    const { outcome } = await run({ program: "probe.mjs", args: [], env: { MY_FLAG: "on" } });
    expect(outcome).toMatchObject({ kind: "finished", result: { text: "ran" } });
    expect(readFileSync(marker, "utf8")).toBe("on");
  });
});
